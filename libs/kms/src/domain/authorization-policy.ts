import type { KmsResourceRepository } from '../repositories/resource.repository.js';

export type KmsAction =
  | 'key.retrieve'
  | 'key.bind'
  | 'resource.retrieve'
  | 'resource.keys'
  | 'authorization.create'
  | 'authorization.list'
  | 'authorization.delete';

export interface AuthorizationDecision {
  readonly allowed: boolean;
  readonly reason: string;
}

/** How deep KRO-to-KRO authorizations are followed (a conversation nesting a meeting nesting a whiteboard). */
const MAX_INHERITANCE_DEPTH = 8;

/**
 * The one place that decides whether a subject may act on a KRO. For now the draft's rule
 * (draft-abiggs-saag-key-management-service §3.2): authorization is viral — anyone authorized on a
 * KRO may retrieve its keys, bind keys to it and add or remove authorizations — and an
 * authorization whose authId is another KRO's URI extends this KRO to that KRO's members. The
 * Cedar policy engine will replace the body of {@link decide}, not its callers.
 */
export class AuthorizationPolicy {
  constructor(
    private readonly resources: KmsResourceRepository,
    private readonly kroPrefix: string,
  ) {}

  async decide(subject: string, action: KmsAction, resourceUri: string): Promise<AuthorizationDecision> {
    if (await this.isMember(subject, resourceUri)) return { allowed: true, reason: `${subject} is authorized on the resource` };
    return { allowed: false, reason: `${subject} is not authorized on the resource (${action})` };
  }

  private async isMember(subject: string, resourceUri: string): Promise<boolean> {
    const visited = new Set<string>();
    let frontier = [resourceUri];
    for (let depth = 0; depth <= MAX_INHERITANCE_DEPTH && frontier.length > 0; depth++) {
      const next: string[] = [];
      for (const kro of frontier) {
        if (visited.has(kro)) continue;
        visited.add(kro);
        const { member, parents } = await this.resources.membership(kro, [subject], this.kroPrefix);
        if (member) return true;
        next.push(...parents);
      }
      frontier = next;
    }
    return false;
  }
}
