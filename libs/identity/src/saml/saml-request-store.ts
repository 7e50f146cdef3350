import type { CacheItem, CacheProvider } from '@node-saml/node-saml';
import type { SamlRequestRepository } from './saml-request.repository.js';

/**
 * node-saml's InResponseTo store (its `CacheProvider`) over the database, so that the node that
 * receives a Response need not be the node that sent the AuthnRequest (SAML core §3.2.2).
 *
 * One instance serves one SAML operation: it remembers which ids *this* operation deleted, so the
 * caller can tell whether it won the id. node-saml reads the id (`getAsync`) and deletes it
 * (`removeAsync`) in two steps; when the same response arrives twice at once, both reads may
 * succeed, but only one DELETE removes the row, and only that operation may log the user in.
 */
export class SamlRequestStore implements CacheProvider {
  private readonly consumedIds = new Set<string>();

  constructor(
    private readonly repository: SamlRequestRepository,
    private readonly clock: () => number,
    private readonly lifetimeMs: number,
  ) {}

  /** Called by node-saml when it builds an AuthnRequest; `value` is its IssueInstant. */
  async saveAsync(key: string, value: string): Promise<CacheItem | null> {
    const now = this.clock();
    await this.repository.insert({ id: key, createdAt: new Date(now), expiresAt: new Date(now + this.lifetimeMs) }, new Date(now));
    return { value, createdAt: now };
  }

  /**
   * The creation instant of a pending, unexpired request (node-saml compares it with its own
   * expiry period, which is set to the same lifetime), or null.
   */
  async getAsync(key: string): Promise<string | null> {
    if (typeof key !== 'string' || key.length === 0 || key.length > 128) return null;
    const row = await this.repository.find(key);
    if (!row) return null;
    if (row.expiresAt.getTime() <= this.clock()) {
      await this.repository.delete(key);
      return null;
    }
    return row.createdAt.toISOString();
  }

  async removeAsync(key: string | null): Promise<string | null> {
    if (typeof key !== 'string' || key.length === 0 || key.length > 128) return null;
    if (await this.repository.delete(key)) {
      this.consumedIds.add(key);
      return key;
    }
    return null;
  }

  /** Whether this operation's own DELETE removed `key`. */
  consumed(key: string): boolean {
    return this.consumedIds.has(key);
  }
}
