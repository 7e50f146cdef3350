#!/usr/bin/env node
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Message, type RealmClient, RealmClientError, type UnreadableMessage } from '@realm/realm-client';
import { type DevStack, type DevStackDescription, runningStack, signInDemoUser, startDevStack } from './stack.js';

/**
 * `npm run demo`: the end-to-end encrypted conversation, scripted, against a stack of its own in a
 * temporary directory (or a running `npm start` with --use-running). Every step checks what it
 * claims; the exit code is 0 only if every step behaved.
 *
 *   --use-running[=DIR]  play against the stack `npm start` runs (DIR default ./data)
 *   --data-dir DIR       start the stack in DIR and keep it (default: a temporary directory, removed)
 *   --nodes N            appliance processes (N > 1 needs REALM_DATABASE_URL on PostgreSQL)
 *   --evidence-file F    for the leak-scan test only: writes the plaintexts, the key bytes and the
 *                        tokens the clients held, so the test can look for them in the core's and
 *                        the appliance's files. Never use it outside a test.
 */

const { values: args } = parseArgs({
  options: {
    'use-running': { type: 'string' },
    'data-dir': { type: 'string' },
    nodes: { type: 'string' },
    'evidence-file': { type: 'string' },
  },
  strict: true,
});

const say = (line = '') => process.stdout.write(`${line}\n`);

class StepFailed extends Error {}

function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new StepFailed(what);
}

/** What a client's events socket delivered, and a way to wait for a message from someone. */
function inbox(client: RealmClient): { from(senderId: string, timeoutMs?: number): Promise<Message | UnreadableMessage> } {
  const received: (Message | UnreadableMessage)[] = [];
  const waiting = new Set<() => void>();
  client.onMessage((m) => {
    received.push(m);
    for (const wake of waiting) wake();
  });
  const senderOf = (m: Message | UnreadableMessage) => ('text' in m ? m.senderId : m.activity.actorId);
  return {
    from: (senderId, timeoutMs = 20_000) =>
      new Promise((resolvePromise, reject) => {
        const look = () => {
          const index = received.findIndex((m) => senderOf(m) === senderId);
          if (index < 0) return false;
          waiting.delete(look);
          clearTimeout(timer);
          resolvePromise(received.splice(index, 1)[0]!);
          return true;
        };
        const timer = setTimeout(() => {
          waiting.delete(look);
          reject(new StepFailed(`no message from ${senderId} arrived within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        if (!look()) waiting.add(look);
      }),
  };
}

function isMessage(m: Message | UnreadableMessage): m is Message {
  return 'text' in m;
}

async function refusal(what: () => Promise<unknown>): Promise<RealmClientError> {
  try {
    await what();
  } catch (error) {
    if (error instanceof RealmClientError) return error;
    throw error;
  }
  throw new StepFailed('expected a refusal, got an answer');
}

const short = (uri: string) => uri.replace(/^(kms:\/\/[^/]+\/(keys|resources)\/)([0-9a-f]{8})[0-9a-f-]*$/, '$1$3…');

/** Plays the scenario; the clients it signs in go into `clients` (closed by the caller), the messages into `plaintexts`. */
async function scenario(stack: DevStackDescription, clients: RealmClient[], plaintexts: string[]): Promise<void> {
  say(`KMS messages travel ${stack.linked ? 'through the core (the appliance dialled out to it)' : 'to the appliance directly (no link to the core)'}`);
  say();

  say('1. alice, bob and carol sign in through SSO (SAML at the dev IdP, then OAuth code + PKCE S256)');
  const alice = await signInDemoUser(stack, 'alice');
  clients.push(alice);
  const bob = await signInDemoUser(stack, 'bob');
  clients.push(bob);
  const carol = await signInDemoUser(stack, 'carol');
  clients.push(carol);
  for (const [name, c] of [['alice', alice], ['bob', bob], ['carol', carol]] as const) say(`   ${name.padEnd(5)} signed in as ${c.userId}`);
  const bobInbox = inbox(bob);
  const aliceInbox = inbox(alice);

  say('2. alice creates a room with bob');
  const room = await alice.createRoom({ members: [bob.userId] });
  check(room.participants.includes(bob.userId) && room.participants.includes(alice.userId), 'the room has alice and bob');
  const firstKey = room.currentKeyUrl;
  say(`   room ${room.id}: KMS resource ${short(room.kmsResourceObjectUrl)}, key ${short(firstKey)}`);

  say('3. they exchange messages through the core');
  const hello = 'Hi Bob, the Q3 numbers are in: revenue up 12%.';
  plaintexts.push(hello);
  await alice.send(room.id, hello);
  const bobGot = await bobInbox.from(alice.userId);
  check(isMessage(bobGot) && bobGot.text === hello && bobGot.senderId === alice.userId, 'bob reads alice’s message');
  say(`   alice → bob: "${bobGot.text}" (bob fetched the key from the KMS and decrypted it)`);
  const reply = 'Thanks Alice, I will share them with the board on Monday.';
  plaintexts.push(reply);
  await bob.send(room.id, reply);
  const aliceGot = await aliceInbox.from(bob.userId);
  check(isMessage(aliceGot) && aliceGot.text === reply && aliceGot.senderId === bob.userId, 'alice reads bob’s reply');
  say(`   bob → alice: "${aliceGot.text}"`);
  const oldActivities = [bobGot.activity, aliceGot.activity];
  say(`   the core holds only ciphertext: ${bobGot.activity.encryptedContent.slice(0, 32)}… under ${short(bobGot.activity.encryptionKeyUrl)}`);

  say('4. carol, not a member, is refused');
  const carolRoom = await refusal(() => carol.room(room.id));
  check(carolRoom.code === 'REALM_CLIENT_CORE_REFUSED' && carolRoom.status === 404, `the core hides the room from carol (got ${carolRoom.code} ${carolRoom.status})`);
  say('   the core does not show her the room (404)');
  const carolKey = await refusal(() => carol.decrypt(bobGot.activity));
  check(carolKey.code === 'REALM_CLIENT_KEY_REFUSED', `the KMS refuses carol the key (got ${carolKey.code})`);
  say(`   given the ciphertext and the key URL anyway (as a leaky core could), the KMS refuses her the key (${carolKey.status})`);

  say('5. alice removes bob; the room key rotates');
  const rotated = await alice.removeMember(room.id, bob.userId);
  check(!rotated.participants.includes(bob.userId), 'bob is no longer a participant');
  check(rotated.currentKeyUrl !== firstKey, 'the room has a new key');
  say(`   bob's KMS authorization removed; new key ${short(rotated.currentKeyUrl)} bound to the room's resource`);
  const secret = 'Bob has left: the acquisition closes on Friday.';
  plaintexts.push(secret);
  const sent = await alice.send(room.id, secret);
  check(sent.keyUrl === rotated.currentKeyUrl, 'the new message uses the new key');
  say(`   alice sends a new message under ${short(sent.keyUrl)}`);

  say('6. bob still reads the old messages, and not the new one');
  for (const activity of oldActivities) {
    const again = await bob.decrypt(activity);
    check(again.text === (activity.actorId === alice.userId ? hello : reply), 'bob re-reads an old message');
  }
  say(`   bob re-reads both old messages with the key his client already holds`);
  const bobHistory = await refusal(() => bob.history(room.id));
  check(bobHistory.status === 404, 'the core no longer lists the room for bob');
  const bobNew = await refusal(() => bob.decrypt(sent.activity));
  check(bobNew.code === 'REALM_CLIENT_KEY_REFUSED', `the KMS refuses bob the new key (got ${bobNew.code})`);
  say(`   the core no longer lists the room for him, and given the new ciphertext anyway, the KMS refuses him the new key (${bobNew.status})`);
  const aliceHistory = await alice.history(room.id);
  check(aliceHistory.length === 3 && aliceHistory.every(isMessage), 'alice reads the whole history, across the rotation');
  say(`   alice reads all ${aliceHistory.length} messages, across the rotation`);
}

async function main(): Promise<number> {
  let stack: DevStack | undefined;
  let description: DevStackDescription;
  let tempDir: string | undefined;
  if (args['use-running'] !== undefined) {
    description = runningStack(args['use-running'] || './data');
    say(`demo on the running stack in ${description.dataDir}`);
  } else {
    const dataDir = args['data-dir'] ? resolve(args['data-dir']) : (tempDir = mkdtempSync(join(tmpdir(), 'realm-demo-')));
    const nodes = args.nodes === undefined ? 1 : Number(args.nodes);
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 8) throw new Error('--nodes: must be an integer from 1 to 8');
    say(`starting a stack of its own in ${dataDir}${nodes > 1 ? ` with ${nodes} appliance nodes` : ''}`);
    stack = await startDevStack({ dataDir, applianceNodes: nodes, log: (line) => say(`  ${line}`) });
    description = stack;
  }
  say();
  const clients: RealmClient[] = [];
  const plaintexts: string[] = [];
  let status = 0;
  try {
    await scenario(description, clients, plaintexts);
    if (args['evidence-file']) {
      const secrets = await Promise.all(clients.map((c) => c.secretsForLeakScan()));
      writeFileSync(args['evidence-file'], JSON.stringify({ plaintexts, keys: [...new Set(secrets.flatMap((s) => s.keys))], tokens: [...new Set(secrets.flatMap((s) => s.tokens))], stack: description }), { mode: 0o600 });
    }
    say();
    say('✓ every step behaved: the core carried only ciphertext, and the KMS decided who read what');
  } catch (error) {
    status = 1;
    say();
    say(`✗ ${error instanceof StepFailed ? 'a step did not behave' : 'the demo failed'}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    if (stack) {
      const results = await stack.stop();
      if (results.some((r) => r.code !== 0)) {
        status = 1;
        say(`✗ the stack did not stop cleanly: ${results.map((r) => `${r.name} ${r.code}`).join(', ')}`);
      }
    }
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
  return status;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`npm run demo: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
