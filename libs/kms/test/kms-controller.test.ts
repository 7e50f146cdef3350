/**
 * The HTTP answer of POST /kms/messages is written without JSON.stringify: it must be exactly what
 * JSON.stringify would write for the compact tokens the pipeline produces.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encryptDirA256Gcm, randomKey } from '@realm/crypto';
import { kmsMessagesJson } from '../src/kms.controller.js';

describe('POST /kms/messages answer body', () => {
  it('is the JSON of { kmsMessages } for compact tokens, and for none', () => {
    const key = randomKey();
    const tokens = Array.from({ length: 50 }, (_, i) => encryptDirA256Gcm(key, `kms://kms.realm.test/ecdhe/${i}`, Buffer.from(JSON.stringify({ status: 200, n: i }))));
    for (const batch of [[], tokens.slice(0, 1), tokens]) {
      const text = kmsMessagesJson(batch);
      assert.equal(text, JSON.stringify({ kmsMessages: batch }));
      assert.deepEqual(JSON.parse(text), { kmsMessages: batch });
    }
  });

  it('takes only what the compact serializers made, so nothing in it needs escaping', () => {
    // A string from anywhere else does not compile (the build fails if this stops being an error).
    // @ts-expect-error: a plain string is not a CompactSerialization
    const forged = kmsMessagesJson(['"],"injected":["']);
    // Why: a quote in an element would write JSON of someone else's choosing.
    assert.deepEqual(JSON.parse(forged), { kmsMessages: [''], injected: [''] });
  });
});
