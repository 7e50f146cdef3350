import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { type DynamicModule, Module } from '@nestjs/common';
import type { AuditLog } from '@realm/audit';
import type { RealmConfig } from '@realm/config';
import type { ServiceCertificateAuthority } from '@realm/identity';
import type { Database } from '@realm/persistence';
import type { KeyVault } from '@realm/vault';
import { CoreLinkError } from './core-link.error.js';
import { LinkIdentity } from './identity/link-identity.js';
import { CoreLink, type CoreLinkKms, type CoreLinkLog, type CoreLinkOptions } from './link/core-link.js';
import { NODE_ID } from './link/link-frames.js';

export interface CoreLinkDeps {
  readonly config: RealmConfig;
  readonly db: Database;
  readonly vault: KeyVault;
  readonly audit: AuditLog;
  readonly serviceCa: ServiceCertificateAuthority;
  /** The KMS service behind POST /kms/messages and GET /kms/discovery. */
  readonly kms: CoreLinkKms;
  readonly log: CoreLinkLog;
  /** The worker number when the appliance runs as several processes (http.workers > 1). */
  readonly workerId?: number;
  /** Tuning the configuration does not carry (tests). */
  readonly overrides?: Partial<Pick<CoreLinkOptions, 'discoveryCheckMs' | 'welcomeTimeoutMs' | 'random'>>;
}

/**
 * The node id on the link (§3.3: one link per node, a reconnecting node replaces its old link):
 * coreLink.nodeId or the host name, with `-w<n>` for worker n, so each process is a node of its own.
 */
export function linkNodeId(configured: string | undefined, workerId?: number, host: string = hostname()): string {
  const base = configured ?? (host.replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 100) || 'appliance');
  const id = workerId === undefined ? base : `${base}-w${workerId}`;
  if (!NODE_ID.test(id)) throw new CoreLinkError('CORE_LINK_CONFIG', `the link node id ${JSON.stringify(id)} is not [A-Za-z0-9._:-]{1,128}: set coreLink.nodeId`, { setting: 'coreLink.nodeId' });
  return id;
}

/** Reads coreLink.caFile: PEM certificates only; the core's certificate must chain to one of them. */
export function readCoreCaFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CoreLinkError('CORE_LINK_CONFIG', `cannot read coreLink.caFile ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { setting: 'coreLink.caFile' });
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new CoreLinkError('CORE_LINK_CONFIG', `coreLink.caFile ${path} holds no PEM certificate`, { setting: 'coreLink.caFile' });
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw new CoreLinkError('CORE_LINK_CONFIG', `coreLink.caFile ${path} holds a certificate that does not parse`, { setting: 'coreLink.caFile' });
    }
  }
  return blocks.join('\n') + '\n';
}

/**
 * Builds this node's link to the core from the configuration, or nothing when coreLink.url is not
 * set. The link is not started: the appliance starts it once it listens (`link.start()`).
 */
export function openCoreLink(deps: CoreLinkDeps): CoreLink | undefined {
  const settings = deps.config.coreLink;
  if (!settings) return undefined;
  const caPem = readCoreCaFile(settings.caFile);
  const identity = new LinkIdentity(deps.db, deps.vault, deps.serviceCa, { validityDays: settings.certificateDays });
  return new CoreLink(
    {
      url: settings.url,
      caPem,
      nodeId: linkNodeId(settings.nodeId, deps.workerId),
      kmsCluster: `kms://${deps.config.kms.domain}`,
      maxInFlight: settings.maxInFlight,
      maxBatch: deps.config.kms.maxBatch,
      maxMessageBytes: deps.config.kms.maxMessageBytes,
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
      reconnectBaseMs: settings.reconnectBaseMs,
      reconnectMaxMs: settings.reconnectMaxMs,
      drainTimeoutMs: settings.drainTimeoutMs,
      software: 'security-realm/0.1.0',
      ...deps.overrides,
    },
    { kms: deps.kms, identity, audit: deps.audit, log: deps.log },
  );
}

/** Provides this node's {@link CoreLink} (when configured) to the appliance's other modules. */
@Module({})
export class CoreLinkModule {
  static forRoot(link: CoreLink | undefined): DynamicModule {
    return { module: CoreLinkModule, providers: link ? [{ provide: CoreLink, useValue: link }] : [], exports: link ? [CoreLink] : [] };
  }
}
