import { Body, Controller, Get, Header, HttpCode, Post } from '@nestjs/common';
import type { CompactSerialization } from '@realm/crypto';
import { KmsMessagesDto } from './kms-messages.dto.js';
import { KmsService } from './kms.service.js';

/** The KMS over HTTPS: discovery and the message endpoint. The protocol itself is in the pipeline. */
@Controller('kms')
export class KmsController {
  constructor(private readonly kms: KmsService) {}

  /** What a client fetches before the handshake: the cluster URI and the static public key with its x5c chain. */
  @Get('discovery')
  discovery() {
    return this.kms.discovery();
  }

  /** `{ destination, kmsMessages }` → `{ kmsMessages }`, one response per message, in order. */
  @Post('messages')
  @HttpCode(200)
  @Header('Content-Type', 'application/json; charset=utf-8')
  messages(@Body() body: KmsMessagesDto): Promise<string> {
    return answerKmsMessages(this.kms, body);
  }
}

async function answerKmsMessages(kms: KmsService, body: KmsMessagesDto): Promise<string> {
  return kmsMessagesJson((await kms.messages(body)).kmsMessages);
}

/**
 * `POST /kms/messages` as the appliance serves it: ahead of Express, with the platform's own
 * middleware, body parser, validation and error answers (`serveJsonPostDirectly` of @realm/http),
 * since the route pipeline costs more per batch than the platform's work. Same DTO and answer as
 * the controller's route, which still serves the spellings of the path this does not match.
 */
export function kmsMessagesRoute(kms: KmsService): { readonly path: string; readonly dto: typeof KmsMessagesDto; handle(body: KmsMessagesDto): Promise<string> } {
  return { path: '/kms/messages', dto: KmsMessagesDto, handle: (body) => answerKmsMessages(kms, body) };
}

/**
 * `{"kmsMessages":[...]}` written directly: every element is a compact JWE or JWS made by
 * @realm/crypto's serializers (the type says so), base64url segments and dots (RFC 7515 §7.1), so
 * none needs escaping. JSON.stringify would scan some 70 kB of such text per 50-message batch for
 * characters to escape.
 */
export function kmsMessagesJson(messages: readonly CompactSerialization[]): string {
  return messages.length === 0 ? '{"kmsMessages":[]}' : `{"kmsMessages":["${messages.join('","')}"]}`;
}
