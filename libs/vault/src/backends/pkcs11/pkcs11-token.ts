import pkcs11js from 'pkcs11js';
import type { Pkcs11Config } from '@realm/config';
import { VaultError } from '../../vault.error.js';
import { isSessionLost, type Pkcs11Operation, type Pkcs11Settings, translatePkcs11Error } from './pkcs11-errors.js';

type Handle = Buffer;

/**
 * The process-wide PKCS#11 library. PKCS#11 v2.40 §5.4: C_Initialize is called once per
 * application; repeated initialise/finalise cycles crash some modules, so the library stays
 * initialised until the process exits.
 */
class Pkcs11Library {
  private static instance: { path: string; library: pkcs11js.PKCS11 } | undefined;

  static get(settings: Pkcs11Settings): pkcs11js.PKCS11 {
    const current = Pkcs11Library.instance;
    if (current) {
      if (current.path !== settings.module) {
        throw new VaultError('VAULT_HSM_MODULE_UNAVAILABLE', `this process already uses the PKCS#11 module ${current.path}; one module per process (vault.pkcs11.module is ${settings.module})`, { setting: 'vault.pkcs11.module' });
      }
      return current.library;
    }
    const library = new pkcs11js.PKCS11();
    try {
      library.load(settings.module);
    } catch (error) {
      throw translatePkcs11Error(error, 'load', settings);
    }
    try {
      library.C_Initialize();
    } catch (error) {
      // Another component of this process (or the module's own loader) initialised it first.
      if ((error as Error).message !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw translatePkcs11Error(error, 'initialize', settings);
    }
    Pkcs11Library.instance = { path: settings.module, library };
    return library;
  }
}

/**
 * A logged-in read-write session on the token with the configured label. The session is reused
 * for every call; when a call fails because the session or the token went away, the token is
 * looked up again by label (slot ids are not stable: SoftHSM2 reassigns them), a new session is
 * opened and logged in, and the call is retried once.
 */
export class Pkcs11Token {
  private session: Handle | undefined;
  private slot: Handle | undefined;
  private readonly settings: Pkcs11Settings;
  private readonly objectCache = new Map<string, Handle>();
  /** Incremented on every re-open, for health output and tests. */
  reopenCount = 0;

  constructor(private readonly config: Pkcs11Config) {
    this.settings = { module: config.module, tokenLabel: config.tokenLabel, pinSetting: config.pinSetting };
  }

  get library(): pkcs11js.PKCS11 {
    return Pkcs11Library.get(this.settings);
  }

  get tokenLabel(): string {
    return this.config.tokenLabel;
  }

  /** Opens the session now, so that a wrong PIN or label stops the start instead of the first request. */
  open(): void {
    this.ensureSession();
  }

  /**
   * Runs `work` with the session. Object handles found through {@link findObject} are cached and
   * dropped whenever the session is re-opened.
   */
  run<T>(operation: Pkcs11Operation, work: (library: pkcs11js.PKCS11, session: Handle) => T): T {
    const session = this.ensureSession();
    try {
      return work(this.library, session);
    } catch (error) {
      if (!isSessionLost(error)) throw translatePkcs11Error(error, operation, this.settings);
    }
    this.reset();
    const retried = this.ensureSession();
    try {
      return work(this.library, retried);
    } catch (error) {
      if (isSessionLost(error)) this.reset();
      throw translatePkcs11Error(error, operation, this.settings);
    }
  }

  /** The single object matching `template`, cached under `cacheKey`; undefined when none exists. */
  findObject(session: Handle, cacheKey: string, template: pkcs11js.Template): Handle | undefined {
    const cached = this.objectCache.get(cacheKey);
    if (cached) return cached;
    const library = this.library;
    library.C_FindObjectsInit(session, template);
    let found: Handle[];
    try {
      found = library.C_FindObjects(session, 2);
    } finally {
      library.C_FindObjectsFinal(session);
    }
    if (found.length > 1) {
      throw new VaultError('VAULT_HSM_ERROR', `more than one object on token '${this.tokenLabel}' matches ${cacheKey}: remove the duplicate`);
    }
    if (found.length === 1) this.objectCache.set(cacheKey, found[0]!);
    return found[0];
  }

  forget(cacheKey: string): void {
    this.objectCache.delete(cacheKey);
  }

  close(): void {
    if (this.session) {
      try {
        this.library.C_CloseSession(this.session);
      } catch {
        // Already gone: nothing to release.
      }
    }
    this.session = undefined;
    this.objectCache.clear();
  }

  private reset(): void {
    this.close();
    this.slot = undefined;
    this.reopenCount += 1;
  }

  private ensureSession(): Handle {
    if (this.session) return this.session;
    const library = this.library;
    const slot = (this.slot ??= this.findSlot(library));
    let session: Handle;
    try {
      session = library.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
    } catch (error) {
      throw translatePkcs11Error(error, 'open-session', this.settings);
    }
    try {
      library.C_Login(session, pkcs11js.CKU_USER, this.config.pin.reveal());
    } catch (error) {
      // Login state belongs to the application, not the session (PKCS#11 v2.40 §5.6).
      if ((error as Error).message !== 'CKR_USER_ALREADY_LOGGED_IN') {
        try {
          library.C_CloseSession(session);
        } catch {
          // The login failure is what matters.
        }
        throw translatePkcs11Error(error, 'login', this.settings);
      }
    }
    this.session = session;
    return session;
  }

  private findSlot(library: pkcs11js.PKCS11): Handle {
    let slots: Handle[];
    try {
      slots = library.C_GetSlotList(true);
    } catch (error) {
      throw translatePkcs11Error(error, 'find-token', this.settings);
    }
    const labels: string[] = [];
    for (const slot of slots) {
      let label: string;
      try {
        label = library.C_GetTokenInfo(slot).label.trim();
      } catch {
        continue;
      }
      if (label === this.config.tokenLabel) return slot;
      labels.push(label);
    }
    const present = labels.length > 0 ? `tokens present: ${labels.map((l) => `'${l}'`).join(', ')}` : 'no initialised token is present';
    throw new VaultError('VAULT_TOKEN_NOT_FOUND', `no token labelled '${this.config.tokenLabel}' in ${this.config.module} (vault.pkcs11.tokenLabel); ${present}`, { setting: 'vault.pkcs11.tokenLabel' });
  }
}
