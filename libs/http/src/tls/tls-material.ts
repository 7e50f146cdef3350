import { createPrivateKey, generateKeyPair, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { inspect, promisify } from 'node:util';
import { ConfigError, envNameOf, MASK, type RealmConfig } from '@realm/config';
import type { Logger } from '../logging/logger.js';
import { createSelfSignedCertificate } from './self-signed-cert.js';

/**
 * The key and certificate chain the HTTPS listener serves. Printing it (JSON, util.inspect, a log
 * line) shows the fingerprint, never the key.
 */
export class TlsMaterial {
  constructor(
    /** PEM private key. */
    readonly key: string,
    /** PEM certificate, possibly followed by its chain. */
    readonly cert: string,
    readonly selfSigned: boolean,
    /** SHA-256 of the DER certificate, colon-separated hex: what a client pins or an operator compares. */
    readonly fingerprintSha256: string,
  ) {}

  toJSON(): Record<string, unknown> {
    return { key: MASK, selfSigned: this.selfSigned, fingerprintSha256: this.fingerprintSha256 };
  }

  [inspect.custom](): string {
    return `TlsMaterial { selfSigned: ${this.selfSigned}, fingerprintSha256: '${this.fingerprintSha256}', key: '${MASK}' }`;
  }
}

const CERT_SETTING = 'http.tls.certFile';
const KEY_SETTING = 'http.tls.keyFile';
const DEV_COMMON_NAME = 'security realm development certificate';
const DAY_MS = 86_400_000;
const DEV_VALIDITY_MS = 365 * DAY_MS;
/** A development certificate this close to expiry is replaced, so a running test session never sees it lapse. */
const DEV_RENEW_BEFORE_MS = 7 * DAY_MS;
/** Configured certificates closer than this to expiry are reported at every start. */
const EXPIRY_WARNING_MS = 30 * DAY_MS;

/**
 * The TLS key and certificate for the HTTPS listener.
 *
 * With `http.tls.certFile` and `http.tls.keyFile` set, reads both and checks the key belongs to the
 * certificate, so a mismatch stops the start with one line instead of failing every handshake.
 * Without them (development only: this fails closed for any other env, even though configuration
 * validation already refuses it), loads or creates a self-signed certificate under
 * `<dataDir>/tls/`, renewed when it is missing, damaged, mismatched, readable by others, expiring
 * within 7 days, or no longer names this host.
 *
 * Errors are {@link ConfigError}s whose one-line message names the setting and the path, never key
 * material.
 */
export async function loadTlsMaterial(config: RealmConfig, log: Logger): Promise<TlsMaterial> {
  const { certFile, keyFile } = config.http.tls;
  if (certFile !== undefined && keyFile !== undefined) return loadConfiguredTls(certFile, keyFile, log);
  if (certFile !== undefined || keyFile !== undefined) {
    const missing = certFile === undefined ? CERT_SETTING : KEY_SETTING;
    throw new ConfigError('CONFIG_MISSING_VALUE', `${describeSetting(missing)} must be set together with ${missing === CERT_SETTING ? KEY_SETTING : CERT_SETTING}`, { setting: missing });
  }
  if (config.env !== 'development') {
    throw new ConfigError(
      'CONFIG_MISSING_VALUE',
      `${describeSetting(CERT_SETTING)} and ${KEY_SETTING} must be set when env is ${config.env}: the self-signed certificate is for development only`,
      { setting: CERT_SETTING },
    );
  }
  return loadOrCreateDevelopmentTls(config.dataDir, log);
}

async function loadConfiguredTls(certFile: string, keyFile: string, log: Logger): Promise<TlsMaterial> {
  const certPem = await readSettingFile(CERT_SETTING, certFile);
  const keyPem = await readSettingFile(KEY_SETTING, keyFile);

  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch {
    throw new ConfigError('CONFIG_INVALID_VALUE', `${describeSetting(CERT_SETTING)} ${certFile} does not hold a PEM certificate`, { setting: CERT_SETTING });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    // The parser's message is not repeated: for some inputs it quotes what it could not parse.
    throw new ConfigError('CONFIG_INVALID_VALUE', `${describeSetting(KEY_SETTING)} ${keyFile} does not hold an unencrypted PEM private key`, { setting: KEY_SETTING });
  }
  if (!keyMatchesCertificate(certificate, privateKey)) {
    throw new ConfigError(
      'CONFIG_CONFLICT',
      `${describeSetting(KEY_SETTING)} ${keyFile} is not the private key of the certificate in ${describeSetting(CERT_SETTING)} ${certFile}`,
      { setting: KEY_SETTING },
    );
  }

  const keyMode = (await stat(keyFile)).mode & 0o777;
  if ((keyMode & 0o077) !== 0) {
    log.warn({ setting: KEY_SETTING, path: keyFile, mode: keyMode.toString(8).padStart(4, '0') }, 'the TLS private key file is accessible to group or others: restrict it to mode 0600');
  }
  const notAfter = new Date(certificate.validTo);
  const fields = { fingerprintSha256: certificate.fingerprint256, subject: certificate.subject, notAfter: notAfter.toISOString() };
  if (notAfter.getTime() - Date.now() < EXPIRY_WARNING_MS) {
    log.warn({ ...fields, setting: CERT_SETTING }, notAfter.getTime() < Date.now() ? 'the TLS certificate has expired' : 'the TLS certificate expires within 30 days');
  } else {
    log.info(fields, 'TLS certificate loaded');
  }
  return new TlsMaterial(keyPem, certPem, false, certificate.fingerprint256);
}

async function loadOrCreateDevelopmentTls(dataDir: string, log: Logger): Promise<TlsMaterial> {
  const dir = join(dataDir, 'tls');
  const certPath = join(dir, 'dev-cert.pem');
  const keyPath = join(dir, 'dev-key.pem');
  const wanted = { dnsNames: developmentDnsNames(), ipAddresses: ['127.0.0.1', '::1'] };

  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // mkdir leaves an existing directory's mode alone; the key lives here, so it is tightened anyway.
    await chmod(dir, 0o700);
  } catch (error) {
    throw dataDirError(dir, error);
  }

  const existing = await readDevelopmentFiles(certPath, keyPath);
  const renewal = existing === undefined ? 'none exists' : reasonToRenew(existing, wanted.dnsNames);
  let material: { certPem: string; keyPem: string };
  if (existing !== undefined && renewal === undefined) {
    material = existing;
  } else {
    material = await createDevelopmentMaterial(wanted);
    try {
      // The key goes first: a crash between the two renames leaves a pair that does not match,
      // which the next start detects and replaces.
      await writeFileAtomically(keyPath, material.keyPem, 0o600);
      await writeFileAtomically(certPath, material.certPem, 0o644);
    } catch (error) {
      throw dataDirError(dir, error);
    }
    log.info({ path: certPath, reason: renewal }, 'created a development TLS certificate');
  }

  const certificate = new X509Certificate(material.certPem);
  log.warn(
    { fingerprintSha256: certificate.fingerprint256, path: certPath, notAfter: new Date(certificate.validTo).toISOString() },
    'serving HTTPS with a self-signed development certificate: clients must trust this certificate or its SHA-256 fingerprint; set http.tls.certFile and http.tls.keyFile for anything but development',
  );
  return new TlsMaterial(material.keyPem, material.certPem, true, certificate.fingerprint256);
}

interface DevelopmentFiles {
  readonly certPem: string;
  readonly keyPem: string;
  readonly keyMode: number;
}

async function readDevelopmentFiles(certPath: string, keyPath: string): Promise<DevelopmentFiles | undefined> {
  try {
    const [certPem, keyPem, keyStat] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8'), stat(keyPath)]);
    return { certPem, keyPem, keyMode: keyStat.mode & 0o777 };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw dataDirError(dirname(certPath), error);
  }
}

/** Why the stored development certificate cannot be served, or undefined when it can. */
function reasonToRenew(files: DevelopmentFiles, dnsNames: readonly string[]): string | undefined {
  // A key others could read is no longer a secret, whatever its mode is changed to now.
  if ((files.keyMode & 0o077) !== 0) return 'the key file was accessible to group or others';
  let certificate: X509Certificate;
  let privateKey: KeyObject;
  try {
    certificate = new X509Certificate(files.certPem);
    privateKey = createPrivateKey(files.keyPem);
  } catch {
    return 'the stored files could not be parsed';
  }
  if (!keyMatchesCertificate(certificate, privateKey)) return 'the stored key does not match the certificate';
  if (new Date(certificate.validTo).getTime() - Date.now() < DEV_RENEW_BEFORE_MS) return 'the certificate expires within 7 days';
  const names = (certificate.subjectAltName ?? '').split(', ');
  if (!dnsNames.every((name) => names.includes(`DNS:${name}`))) return 'the host name changed';
  return undefined;
}

async function createDevelopmentMaterial(names: { dnsNames: readonly string[]; ipAddresses: readonly string[] }): Promise<{ certPem: string; keyPem: string }> {
  // RSA because the certificate builder (self-signed-cert.ts) signs with RSA only; the key itself
  // comes from node:crypto (OpenSSL).
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // Backdated a minute so a client whose clock is slightly behind still accepts it.
  const notBefore = new Date(Date.now() - 60_000);
  const certPem = createSelfSignedCertificate({
    privateKeyPem: keyPem,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    commonName: DEV_COMMON_NAME,
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    notBefore,
    notAfter: new Date(notBefore.getTime() + DEV_VALIDITY_MS),
  });
  return { certPem, keyPem };
}

/** `localhost` and this machine's name, when it is a valid DNS name (RFC 1123 §2.1). */
function developmentDnsNames(): string[] {
  const host = hostname().toLowerCase();
  const valid = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(host);
  return valid && host !== 'localhost' ? ['localhost', host] : ['localhost'];
}

function keyMatchesCertificate(certificate: X509Certificate, privateKey: KeyObject): boolean {
  try {
    return certificate.checkPrivateKey(privateKey);
  } catch {
    // Node throws instead of answering false for some key type pairs (e.g. an EC key and an RSA certificate).
    return false;
  }
}

/**
 * Replaces `path` so that a reader sees either the old or the new content, never a partial file:
 * write a temporary file created with `mode`, fsync it, rename it over `path`, then fsync the
 * directory so the rename itself survives a crash.
 */
async function writeFileAtomically(path: string, content: string, mode: number): Promise<void> {
  const temp = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    const file = await open(temp, 'wx', mode);
    try {
      await file.writeFile(content, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function readSettingFile(setting: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError('CONFIG_FILE_UNREADABLE', `cannot read ${describeSetting(setting)} ${path}: ${errorCode(error)}`, { setting });
  }
}

function dataDirError(path: string, error: unknown): ConfigError {
  return new ConfigError('CONFIG_INVALID_VALUE', `${describeSetting('dataDir')} must be a writable directory: cannot use ${path} for the development certificate: ${errorCode(error)}`, {
    setting: 'dataDir',
  });
}

/** `http.tls.certFile (REALM_HTTP_TLS_CERT_FILE)`, as configuration errors name settings. */
function describeSetting(key: string): string {
  return `${key} (${envNameOf(key)})`;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? 'error';
}
