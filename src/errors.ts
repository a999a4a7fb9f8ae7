/** Typed errors with stable codes. Exceptions are for bugs and refused input, never for no-bids. */

/** One problem with one field, addressed by a JSON pointer (prefixed with its file when it came from one). */
export interface FieldError {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** A configuration (files or, later, an API body) that was refused, with every field-level error at once. */
export class ConfigError extends Error {
  readonly errors: readonly FieldError[];
  constructor(errors: readonly FieldError[]) {
    super(`configuration refused: ${errors.length} error(s)\n` + formatFieldErrors(errors));
    this.name = 'ConfigError';
    this.errors = errors;
  }
}

export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `  ${e.path}: ${e.message} [${e.code}]`).join('\n');
}
