import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
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
  messages(@Body() body: KmsMessagesDto) {
    return this.kms.messages(body);
  }
}
