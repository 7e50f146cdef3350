import { ArrayMaxSize, IsArray, IsOptional, IsString, MaxLength } from 'class-validator';

/**
 * The body of POST /kms/messages, as Webex clients send it (`encryption/kms/messages`): a batch of
 * compact JWEs for one KMS cluster. The batch size limit of the configuration (kms.maxBatch) is
 * checked by the service; this bound only stops absurd bodies early.
 */
export class KmsMessagesDto {
  @IsOptional()
  @IsString()
  @MaxLength(256)
  destination?: string;

  @IsArray()
  @ArrayMaxSize(10_000)
  @IsString({ each: true })
  kmsMessages!: string[];
}
