// Parsing of command-line values. Every failure is a CasError that names the
// argument; the CLI prints it on one line and exits with code 2.

import { readFileSync } from "node:fs";
import { CasError } from "../errors.js";
import { CliErrorCode } from "./errors.js";

/** Marks an error as caused by the command line (exit code 2). */
export class UsageError extends CasError {
  constructor(message: string, field: string, cause?: unknown) {
    super(CliErrorCode.BAD_ARGUMENT, message, cause === undefined ? { field } : { field, cause });
    this.name = "UsageError";
  }
}

/** A CasError about an input, restated as a UsageError about `flag`; others unchanged. */
export function toUsageError(flag: string, e: unknown): unknown {
  if (e instanceof UsageError || !(e instanceof CasError)) return e;
  return new UsageError(`${flag}: ${e.message.replace(/^[\w.[\]-]+: /, "")}`, flag, e);
}

/** Runs `parse`, turning any CasError it throws into a UsageError about `flag`. */
export function asArgument<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw toUsageError(flag, e);
  }
}

/** A decimal integer within [min, max]. */
export function parseInteger(value: string, flag: string, min: bigint, max: bigint): bigint {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag}: expected a non-negative integer, got ${JSON.stringify(value)}`, flag);
  const n = BigInt(value);
  if (n < min || n > max) throw new UsageError(`${flag}: expected an integer in [${min}, ${max}], got ${value}`, flag);
  return n;
}

/** One of `choices`. */
export function parseChoice<T extends string>(value: string, flag: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`${flag}: expected one of ${choices.join(", ")}, got ${JSON.stringify(value)}`, flag);
  }
  return value as T;
}

/** The contents of a file named by an argument. */
export function readArgumentFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new CasError(CliErrorCode.FILE_UNREADABLE, `${flag}: cannot read ${path} (${reason})`, { field: flag, cause: e });
  }
}

/** JSON text of an object whose bigint values print as exact JSON numbers. */
export function jsonLine(value: Record<string, string | number | bigint | null>): string {
  const parts = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${typeof v === "bigint" ? v.toString() : JSON.stringify(v)}`);
  return `{${parts.join(",")}}`;
}
