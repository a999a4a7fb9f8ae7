/** The body of `PUT /api/v1/audiences/{segmentId}`, validated by schema (TypeBox + ajv). */
import { Type } from '@sinclair/typebox';
import AjvModule from 'ajv';
import { fromAjvErrors } from '../campaigns/validate.js';
import type { FieldError } from '../errors.js';

const Ajv = AjvModule.default ?? AjvModule;

export const SegmentInputSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    advertiserId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' })),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 400 * 24 * 3600 })),
  },
  { additionalProperties: false },
);

const validate = new Ajv({ allErrors: true }).compile(SegmentInputSchema);

export function validateSegmentInput(body: unknown): FieldError[] {
  if (body === undefined) return [];
  return validate(body) ? [] : fromAjvErrors(validate.errors);
}
