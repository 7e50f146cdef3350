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
  async messages(@Body() body: KmsMessagesDto): Promise<string> {
    return kmsMessagesJson((await this.kms.messages(body)).kmsMessages);
  }
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
