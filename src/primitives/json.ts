// Checks for reading JSON documents (genesis files, proofs): each failure is
// a CasError with the document's own code and a message naming the field.

import { CasError } from "../errors.js";

export interface JsonChecks {
  fail(field: string, message: string): CasError;
  object(value: unknown, field: string): Record<string, unknown>;
  string(value: unknown, field: string): string;
  /** A non-negative safe integer. */
  integer(value: unknown, field: string): number;
  array(value: unknown, field: string): unknown[];
  /** Runs `parse`; a CasError of another code it throws is restated with this code, on `field`. */
  within<T>(field: string, parse: () => T): T;
}

function kind(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

/** The checks of a document whose errors carry `code`. */
export function jsonChecks(code: string): JsonChecks {
  const fail = (field: string, message: string): CasError => new CasError(code, `${field}: ${message}`, { field });
  return {
    fail,
    object(value, field) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw fail(field, `expected an object, got ${kind(value)}`);
      return value as Record<string, unknown>;
    },
    string(value, field) {
      if (typeof value !== "string") throw fail(field, `expected a string, got ${kind(value)}`);
      return value;
    },
    integer(value, field) {
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw fail(field, `expected a non-negative integer, got ${kind(value)}`);
      return value;
    },
    array(value, field) {
      if (!Array.isArray(value)) throw fail(field, `expected an array, got ${kind(value)}`);
      return value;
    },
    within(field, parse) {
      try {
        return parse();
      } catch (e) {
        if (e instanceof CasError && e.code !== code) throw fail(field, e.message.replace(/^[^:]*: /, ""));
        throw e;
      }
    },
  };
}
