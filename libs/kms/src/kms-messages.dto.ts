import { ArrayMaxSize, IsArray, IsOptional, IsString, MaxLength, Validate, type ValidationArguments, ValidatorConstraint, type ValidatorConstraintInterface } from 'class-validator';

/**
 * Every element of an array is a string. `@IsString({ each: true })` says the same, but runs its
 * validator machinery once per element: for the 50 messages of every batch, more than the check.
 */
@ValidatorConstraint({ name: 'isStringArray' })
class IsStringArray implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    if (!Array.isArray(value)) return false;
    for (const element of value) if (typeof element !== 'string') return false;
    return true;
  }

  defaultMessage(args: ValidationArguments): string {
    return `each value in ${args.property} must be a string`;
  }
}

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
  @Validate(IsStringArray)
  kmsMessages!: string[];
}
