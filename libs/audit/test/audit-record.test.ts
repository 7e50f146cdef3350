/**
 * The version 1 record body is the RFC 8785 canonical JSON of one object. encodeRecordBody writes it
 * member by member for speed; here it is held, byte for byte, to canonicalJson of the whole object
 * (the definition), over every combination of optional members and awkward strings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, CryptoError } from '@realm/crypto';
import { type AuditEvent, encodeRecordBody } from '../src/index.js';

/** The definition: the record's members as one object, canonicalised whole. */
function definition(seq: number, at: Date, event: AuditEvent): string {
  return canonicalJson({
    v: 1,
    seq,
    at: at.toISOString(),
    action: event.action,
    outcome: event.outcome,
    ...(event.actor !== undefined && { actor: { type: event.actor.type, id: event.actor.id, ...(event.actor.clientId !== undefined && { clientId: event.actor.clientId }) } }),
    ...(event.resources !== undefined && { resources: [...event.resources] }),
    ...(event.reason !== undefined && { reason: event.reason }),
    ...(event.requestId !== undefined && { requestId: event.requestId }),
    ...(event.details !== undefined && { details: { ...event.details } }),
  });
}

const STRINGS = ['plain', '', 'quote " and backslash \\', 'controls \u0000\u001f\n\t', 'non-ASCII é 日本 😀', '\u2028\u2029', 'kms://kms.realm.test/keys/5a0b1f8e'];

describe('audit record body (version 1)', () => {
  it('equals canonicalJson of the whole record for every combination of optional members', () => {
    const at = new Date('2026-12-01T03:04:05.678Z');
    let cases = 0;
    for (let mask = 0; mask < 64; mask++) {
      for (const [i, text] of STRINGS.entries()) {
        const event: AuditEvent = {
          action: `kms.${text}`,
          outcome: (['success', 'denied', 'failure'] as const)[i % 3]!,
          ...(mask & 1 && { actor: { type: 'user', id: `user:${text}`, ...(mask & 2 && { clientId: text }) } }),
          ...(mask & 4 && { resources: [text, `${text}/2`] }),
          ...(mask & 8 && { reason: text }),
          ...(mask & 16 && { requestId: text }),
          ...(mask & 32 && { details: { zeta: text, alpha: i, 'a b': true, '10': null, '9': [text] } }),
        };
        const seq = [1, 2 ** 53 - 1, 1000 + mask][i % 3]!;
        assert.equal(encodeRecordBody(seq, at, event), definition(seq, at, event), JSON.stringify(event));
        cases += 1;
      }
    }
    assert.equal(cases, 64 * STRINGS.length);
  });

  it('refuses what canonicalJson refuses (a lone surrogate), rather than writing it', () => {
    for (const event of [
      { action: 'a\ud800', outcome: 'success' },
      { action: 'a', outcome: 'success', actor: { type: 'user', id: '\udc00' } },
      { action: 'a', outcome: 'success', resources: ['ok', '\ud83d'] },
      { action: 'a', outcome: 'success', details: { key: 'x\ud800' } },
    ] as AuditEvent[]) {
      assert.throws(() => encodeRecordBody(1, new Date(0), event), (error: unknown) => error instanceof CryptoError && error.code === 'CRYPTO_INVALID_INPUT');
    }
  });
});
