import { request } from 'node:https';
import type { KmsDiscovery, KmsTransport } from './kms-client.js';

/**
 * The direct transport: POST /kms/messages on the appliance over HTTPS, trusting only `ca` for
 * TLS (the KMS channel inside is end-to-end encrypted anyway). Responses arrive in the HTTP reply.
 */
export class HttpsKmsTransport implements KmsTransport {
  private handler: ((messages: string[]) => void) | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly ca: string | Buffer,
  ) {}

  onResponses(handler: (messages: string[]) => void): void {
    this.handler = handler;
  }

  async send(destination: string, messages: string[]): Promise<void> {
    const answer = (await this.post('/kms/messages', { destination, kmsMessages: messages })) as { kmsMessages?: unknown };
    if (Array.isArray(answer.kmsMessages)) this.handler?.(answer.kmsMessages.filter((m): m is string => typeof m === 'string'));
  }

  discovery(): Promise<KmsDiscovery> {
    return this.get('/kms/discovery') as Promise<KmsDiscovery>;
  }

  private get(path: string): Promise<unknown> {
    return this.call('GET', path);
  }

  private post(path: string, body: unknown): Promise<unknown> {
    return this.call('POST', path, JSON.stringify(body));
  }

  private call(method: string, path: string, body?: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request(`${this.baseUrl}${path}`, { method, ca: this.ca, headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          if ((res.statusCode ?? 500) >= 400) return reject(new Error(`${method} ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          try {
            resolve(JSON.parse(text));
          } catch (error) {
            reject(error);
          }
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}
