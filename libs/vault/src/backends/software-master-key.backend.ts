import { closeSync, constants, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { aesKeyUnwrapPad, aesKeyWrapPad, CryptoError, randomKey } from '@realm/crypto';
import { VaultError } from '../vault.error.js';
import type { MasterKeyBackend } from './master-key-backend.js';

/**
 * The embedded-default backend: each master-key generation is a 32-byte file, mode 0600, in
 * `<dataDir>/vault/`. Anyone who can read the data directory can read every key, which is why
 * this backend is for a laptop or a demo and refuses to run when env is production.
 */
export class SoftwareMasterKeyBackend implements MasterKeyBackend {
  readonly kind = 'software' as const;
  private readonly keys = new Map<number, Buffer>();
  private readonly directory: string;

  constructor(options: { dataDir: string; env: 'development' | 'production' }) {
    if (options.env === 'production') {
      throw new VaultError('VAULT_SOFTWARE_IN_PRODUCTION', 'the software vault backend is refused when env is production: set vault.backend=pkcs11 (REALM_VAULT_BACKEND)', { setting: 'vault.backend' });
    }
    this.directory = join(options.dataDir, 'vault');
  }

  fileOf(generation: number): string {
    return join(this.directory, `master-key-${generation}.bin`);
  }

  hasMasterKey(generation: number): boolean {
    // The file, not the in-memory copy: a key file that vanished would fail the next start.
    return existsSync(this.fileOf(generation));
  }

  createMasterKey(generation: number): void {
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    const final = this.fileOf(generation);
    const temp = `${final}.${process.pid}.tmp`;
    const key = randomKey();
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, key);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      // link() refuses to replace an existing file, so two processes cannot both create generation N.
      linkSync(temp, final);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new VaultError('VAULT_KEY_EXISTS', `master key generation ${generation} already exists at ${final}`);
      }
      throw error;
    } finally {
      unlinkSync(temp);
    }
    syncDirectory(this.directory);
    this.keys.set(generation, key);
  }

  destroyMasterKey(generation: number): void {
    const file = this.fileOf(generation);
    if (existsSync(file)) {
      const fd = openSync(file, 'r+');
      try {
        writeSync(fd, Buffer.alloc(statSync(file).size));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      unlinkSync(file);
      syncDirectory(this.directory);
    }
    this.keys.get(generation)?.fill(0);
    this.keys.delete(generation);
  }

  wrapKey(generation: number, key: Buffer): Buffer {
    return aesKeyWrapPad(this.load(generation), key);
  }

  unwrapKey(generation: number, wrapped: Buffer): Buffer {
    try {
      return aesKeyUnwrapPad(this.load(generation), wrapped);
    } catch (error) {
      if (error instanceof CryptoError) throw new VaultError('VAULT_UNWRAP_FAILED', 'a wrapped key was refused by the master key: it was altered or wrapped by another key');
      throw error;
    }
  }

  health(): { ok: boolean; detail: string } {
    const ok = existsSync(this.directory);
    return { ok, detail: ok ? `software master key in ${this.directory} (development only)` : `no vault directory ${this.directory}` };
  }

  describe(): Record<string, string> {
    return { backend: 'software', directory: this.directory, warning: 'development only: the master key is a file on disk' };
  }

  close(): void {
    for (const key of this.keys.values()) key.fill(0);
    this.keys.clear();
  }

  private load(generation: number): Buffer {
    const cached = this.keys.get(generation);
    if (cached) return cached;
    const file = this.fileOf(generation);
    let mode: number;
    try {
      mode = statSync(file).mode;
    } catch {
      throw new VaultError('VAULT_MASTER_KEY_MISSING', `master key generation ${generation} is missing: no file ${file} (dataDir)`, { setting: 'dataDir' });
    }
    if ((mode & 0o077) !== 0) {
      throw new VaultError('VAULT_MASTER_KEY_MISSING', `master key file ${file} is accessible to other users (mode ${(mode & 0o777).toString(8)}): chmod 600 it`, { setting: 'dataDir' });
    }
    const key = readFileSync(file);
    if (key.length !== 32) {
      throw new VaultError('VAULT_MASTER_KEY_MISSING', `master key file ${file} is damaged: ${key.length} bytes instead of 32`, { setting: 'dataDir' });
    }
    this.keys.set(generation, key);
    return key;
  }
}

function syncDirectory(directory: string): void {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
