/** HubSpot's error bodies (spec `Error`; 429 body per the rate-limit docs), as the sandbox answers them. */
import { randomUUID } from 'node:crypto';

export interface ErrorBody {
  status: 'error';
  message: string;
  correlationId: string;
  category: string;
  subCategory?: string;
  errors?: { message: string; code?: string; in?: string; context?: Record<string, string[]> }[];
  context?: Record<string, string[]>;
  policyName?: string;
  errorType?: string;
}

/** An error the sandbox answers with: an HTTP status and HubSpot's body. */
export class SandboxHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: ErrorBody,
  ) {
    super(body.message);
  }
}

export function errorBody(category: string, message: string, extra: Partial<ErrorBody> = {}): ErrorBody {
  return { status: 'error', message, correlationId: randomUUID(), category, ...extra };
}

export const validation = (message: string, extra: Partial<ErrorBody> = {}): SandboxHttpError =>
  new SandboxHttpError(400, errorBody('VALIDATION_ERROR', message, extra));
export const notFound = (message: string, extra: Partial<ErrorBody> = {}): SandboxHttpError =>
  new SandboxHttpError(404, errorBody('OBJECT_NOT_FOUND', message, extra));
export const conflict = (message: string, extra: Partial<ErrorBody> = {}): SandboxHttpError => new SandboxHttpError(409, errorBody('CONFLICT', message, extra));

/** A per-record error inside a 207 batch answer (spec `StandardError`). */
export interface StandardError {
  status: string;
  category: string;
  message: string;
  errors: { message: string; code?: string; context?: Record<string, string[]> }[];
  context: Record<string, string[]>;
  links: Record<string, string>;
  id?: string;
}

export function standardError(status: number, category: string, message: string, context: Record<string, string[]>): StandardError {
  return { status: String(status), category, message, errors: [], context, links: {} };
}
