import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, repoRoot } from './support.js';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmToken {
  readonly label: string;
  readonly dir: string;
  readonly confPath: string;
  readonly pinFile: string;
  readonly pin: string;
  /** REALM_* settings that select this token. */
  readonly env: Record<string, string>;
}

let tokenDir: string | undefined;

/**
 * A real SoftHSM2 token, initialised by hsm-config/softhsm-init-token.sh under a SOFTHSM2_CONF of
 * its own. SoftHSM2 reads the configuration at C_Initialize, which happens once per process, so
 * every token of a test process lives in one directory and must be created before the first
 * PKCS#11 call of the process.
 */
export function createSoftHsmToken(label: string): SoftHsmToken {
  const dir = (tokenDir ??= makeTempDir('realm-softhsm-'));
  try {
    execFileSync('bash', [join(repoRoot, 'hsm-config/softhsm-init-token.sh'), '--dir', dir, '--label', label], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    throw new Error(`softhsm-init-token.sh failed: ${String((error as { stderr?: Buffer }).stderr ?? error)}`);
  }
  const confPath = join(dir, 'softhsm2.conf');
  process.env.SOFTHSM2_CONF = confPath;
  const pinFile = join(dir, 'user.pin');
  return {
    label,
    dir,
    confPath,
    pinFile,
    pin: readFileSync(pinFile, 'utf8').trim(),
    env: {
      REALM_VAULT_BACKEND: 'pkcs11',
      REALM_VAULT_PKCS11_MODULE: SOFTHSM_MODULE,
      REALM_VAULT_PKCS11_TOKEN_LABEL: label,
      REALM_VAULT_PKCS11_PIN_FILE: pinFile,
    },
  };
}
