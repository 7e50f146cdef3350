import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { ConfigError, describeConfig, envNameOf, loadConfig, MASK, Secret, SETTINGS } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'realm-config-'));
const pinFile = join(dir, 'user.pin');
writeFileSync(pinFile, '246810\n', { mode: 0o600 });
const pkcs11 = {
  REALM_VAULT_BACKEND: 'pkcs11',
  REALM_VAULT_PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so',
  REALM_VAULT_PKCS11_TOKEN_LABEL: 'realm',
};

function configError(env: Record<string, string>, file?: string): ConfigError {
  try {
    loadConfig({ env, cwd: dir, ...(file !== undefined && { file }) });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.message.includes('\n'), false, 'one line');
    return error;
  }
  assert.fail('expected the configuration to be refused');
}

describe('configuration', () => {
  it('resolves embedded defaults: SQLite in the data dir, software vault, development', () => {
    const config = loadConfig({ env: {}, cwd: dir });
    assert.equal(config.env, 'development');
    assert.equal(config.database.driver, 'sqlite');
    assert.equal(config.database.sqlitePath, join(dir, 'data', 'realm.db'));
    assert.equal(config.vault.backend, 'software');
    assert.equal(config.vault.kekEpochSeconds, 30 * 86400);
    assert.equal(config.http.port, 8443);
    // Longer than the 60 s idle timeout of most load balancers and client pools in front.
    assert.equal(config.http.keepAliveTimeoutSeconds, 65);
  });

  it('derives every environment variable name from the setting key', () => {
    assert.equal(envNameOf('vault.pkcs11.tokenLabel'), 'REALM_VAULT_PKCS11_TOKEN_LABEL');
    assert.equal(envNameOf('http.tls.certFile'), 'REALM_HTTP_TLS_CERT_FILE');
    assert.equal(new Set(SETTINGS.map((s) => envNameOf(s.key))).size, SETTINGS.length, 'names are unique');
  });

  it('lets the environment override the config file, and the file override defaults', () => {
    const file = join(dir, 'realm.json');
    writeFileSync(file, JSON.stringify({ http: { port: 9443, host: '0.0.0.0' }, vault: { kekEpoch: '7d' } }));
    const config = loadConfig({ env: { REALM_HTTP_PORT: '10443' }, file, cwd: dir });
    assert.equal(config.http.port, 10443);
    assert.equal(config.http.host, '0.0.0.0');
    assert.equal(config.vault.kekEpochSeconds, 7 * 86400);
  });

  it('names the key and the variable of a bad value in one line', () => {
    const error = configError({ REALM_HTTP_PORT: 'eighty' });
    assert.equal(error.code, 'CONFIG_INVALID_VALUE');
    assert.equal(error.setting, 'http.port');
    assert.match(error.message, /http\.port \(REALM_HTTP_PORT\) must be an integer between 0 and 65535, got 'eighty'/);
    assert.match(configError({ REALM_VAULT_BACKEND: 'cloud' }).message, /vault\.backend \(REALM_VAULT_BACKEND\) must be one of software, pkcs11/);
    assert.match(configError({ REALM_VAULT_KEK_EPOCH: '5s' }).message, /vault\.kekEpoch .* must be a duration between 1m and 366d/);
    assert.match(configError({ REALM_KMS_DOMAIN: 'Not A Domain' }).message, /kms\.domain .* must be a lower-case DNS name/);
  });

  it('refuses unknown settings in the environment and in the file, so typos cannot fall back to defaults', () => {
    assert.match(configError({ REALM_VAULT_BACKND: 'pkcs11' }).message, /unknown environment variable REALM_VAULT_BACKND/);
    const file = join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify({ vault: { backnd: 'pkcs11' } }));
    assert.match(configError({}, file).message, /unknown setting 'vault\.backnd'/);
  });

  it('reports an unreadable or malformed config file with its path', () => {
    assert.match(configError({}, join(dir, 'missing.json')).message, /cannot read the config file .*missing\.json \(REALM_CONFIG_FILE\): ENOENT/);
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{ "http": ');
    assert.match(configError({}, file).message, /is not valid JSON/);
  });

  it('requires the PKCS#11 settings, and exactly one PIN source, when the backend is pkcs11', () => {
    assert.match(configError({ REALM_VAULT_BACKEND: 'pkcs11' }).message, /vault\.pkcs11\.module \(REALM_VAULT_PKCS11_MODULE\) must be set when vault\.backend is pkcs11/);
    assert.match(configError(pkcs11).message, /vault\.pkcs11\.pinFile .* or vault\.pkcs11\.pin .* must be set/);
    assert.match(configError({ ...pkcs11, REALM_VAULT_PKCS11_PIN: '1234', REALM_VAULT_PKCS11_PIN_FILE: pinFile }).message, /set only one of vault\.pkcs11\.pin/);
    assert.match(configError({ ...pkcs11, REALM_VAULT_PKCS11_PIN_FILE: join(dir, 'nope.pin') }).message, /cannot read the PIN file .*nope\.pin \(vault\.pkcs11\.pinFile/);
    const config = loadConfig({ env: { ...pkcs11, REALM_VAULT_PKCS11_PIN_FILE: pinFile }, cwd: dir });
    assert.equal(config.vault.pkcs11?.pin.reveal(), '246810');
    assert.equal(config.vault.pkcs11?.pinSetting, 'vault.pkcs11.pinFile');
  });

  it('takes the IdP metadata from a file or a URL, not both, and only an https URL', () => {
    const file = { REALM_IDENTITY_SAML_IDP_METADATA_FILE: join(dir, 'idp.xml') };
    const url = { REALM_IDENTITY_SAML_IDP_METADATA_URL: 'https://idp.example/metadata' };
    assert.equal(loadConfig({ env: url, cwd: dir }).identity.saml.idpMetadataUrl, 'https://idp.example/metadata');
    assert.equal(loadConfig({ env: url, cwd: dir }).identity.saml.idpMetadataRefreshSeconds, 12 * 3600);
    assert.match(configError({ ...file, ...url }).message, /set only one of identity\.saml\.idpMetadataFile .* and identity\.saml\.idpMetadataUrl/);
    assert.match(configError({ REALM_IDENTITY_SAML_IDP_METADATA_URL: 'http://idp.example/metadata' }).message, /REALM_IDENTITY_SAML_IDP_METADATA_URL.*https/);
  });

  it('refuses the software vault and the self-signed certificate in production', () => {
    const error = configError({ REALM_ENV: 'production' });
    assert.equal(error.setting, 'vault.backend');
    assert.match(error.message, /software, which is refused when env is production/);
    assert.match(configError({ REALM_ENV: 'production', ...pkcs11, REALM_VAULT_PKCS11_PIN_FILE: pinFile }).message, /http\.tls\.certFile .* must be set when env is production/);
  });

  it('prints every secret as **** in JSON, template strings and util.inspect, and masks database passwords', () => {
    const config = loadConfig({
      env: { ...pkcs11, REALM_VAULT_PKCS11_PIN: '9753108642', REALM_DATABASE_URL: 'postgres://realm:hunter2-db@db.internal:5432/realm' },
      cwd: dir,
    });
    const outputs = [JSON.stringify(describeConfig(config)), inspect(config, { depth: 10 }), `${config.vault.pkcs11?.pin}`, String(config.database.url)];
    for (const text of outputs) {
      assert.equal(text.includes('9753108642'), false, `PIN leaked in: ${text}`);
      assert.equal(text.includes('hunter2-db'), false, `database password leaked in: ${text}`);
    }
    assert.equal(describeConfig(config).vault && (describeConfig(config).vault as { pkcs11: { pin: string } }).pkcs11.pin, MASK);
    assert.match(String(config.database.url), /^postgres:\/\/realm:\*\*\*\*@db\.internal:5432\/realm$/);
    assert.equal(config.database.url.reveal(), 'postgres://realm:hunter2-db@db.internal:5432/realm');
    // A bad secret value is refused without echoing it.
    const error = configError({ REALM_DATABASE_URL: 'mysql://root:topsecret@x/db' });
    assert.equal(error.message.includes('topsecret'), false);
    assert.equal(`${new Secret('x')}`, MASK);
  });

  it('ignores the test harness variables (REALM_TEST_*)', () => {
    assert.doesNotThrow(() => loadConfig({ env: { REALM_TEST_POSTGRES_URL: 'postgres://x' }, cwd: dir }));
  });
});

describe('coreLink settings', () => {
  it('are off without coreLink.url, all-or-nothing with it, and resolve durations to milliseconds', () => {
    assert.equal(loadConfig({ env: {}, cwd: dir }).coreLink, undefined);
    const config = loadConfig({ env: { REALM_CORE_LINK_URL: 'wss://core.example/link/v1', REALM_CORE_LINK_CA_FILE: 'core-ca.pem', REALM_CORE_LINK_HEARTBEAT_INTERVAL: '20s' }, cwd: dir });
    assert.deepEqual(config.coreLink, {
      url: 'wss://core.example/link/v1',
      caFile: join(dir, 'core-ca.pem'),
      maxInFlight: 32,
      heartbeatIntervalMs: 20_000,
      heartbeatTimeoutMs: 10_000,
      reconnectBaseMs: 500,
      reconnectMaxMs: 30_000,
      drainTimeoutMs: 10_000,
      certificateDays: 30,
    });
    assert.match(configError({ REALM_CORE_LINK_URL: 'wss://core.example/link/v1' }).message, /coreLink\.caFile \(REALM_CORE_LINK_CA_FILE\) must be set/);
    assert.match(configError({ REALM_CORE_LINK_URL: 'https://core.example/link/v1', REALM_CORE_LINK_CA_FILE: 'x' }).message, /coreLink\.url .*wss:\/\//);
    assert.match(configError({ REALM_CORE_LINK_CA_FILE: 'x' }).message, /coreLink\.caFile .* is set but coreLink\.url/);
    assert.match(configError({ REALM_CORE_LINK_URL: 'wss://core.example/link/v1', REALM_CORE_LINK_CA_FILE: 'x', REALM_CORE_LINK_RECONNECT_BASE_MS: '5000', REALM_CORE_LINK_RECONNECT_MAX_MS: '1000' }).message, /reconnectMaxMs/);
  });
});

describe('README configuration table', () => {
  it('is the table generated from the schema (regenerate with: node -e "import(\'@realm/config\').then(m => console.log(m.settingsTable()))")', async () => {
    const { readFileSync } = await import('node:fs');
    const { settingsTable } = await import('../src/index.js');
    const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8');
    const block = /<!-- settings:begin -->\n([\s\S]*?)\n<!-- settings:end -->/.exec(readme);
    assert.ok(block, 'README.md has the settings block');
    assert.equal(block[1], settingsTable());
  });
});
