/**
 * Compressed request bodies: RudderStack's and other server clients gzip their batches
 * (`Content-Encoding: gzip`), as Segment's own API accepts. The body limit applies to the bytes
 * after decompression, so a small zip bomb is refused like any oversized body.
 */
import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';

/** Encodings the track API reads. */
export const BODY_ENCODINGS = ['gzip', 'deflate', 'identity'] as const;

/** A 415 for an encoding the API does not read (fastify's error handler answers it). */
export class UnsupportedEncodingError extends Error {
  readonly statusCode = 415;
}

/**
 * The decoded body stream for a request's `Content-Encoding`. The decoder reports the encoded bytes
 * read so far as `receivedEncodedLength`, which fastify checks against Content-Length.
 */
export function decodedBody(encoding: string | undefined, payload: Readable): Readable {
  const name = (encoding ?? 'identity').trim().toLowerCase();
  if (name === '' || name === 'identity') return payload;
  if (name !== 'gzip' && name !== 'x-gzip' && name !== 'deflate') {
    throw new UnsupportedEncodingError(`Content-Encoding "${name.slice(0, 40)}" is not accepted: send gzip, deflate or an uncompressed body`);
  }
  const decoder = name === 'deflate' ? createInflate() : createGunzip();
  const counted = decoder as unknown as Readable & { receivedEncodedLength: number };
  counted.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => {
    counted.receivedEncodedLength += chunk.length;
  });
  // Registered before fastify's own listener, so its 400 carries a message a sender can act on.
  decoder.on('error', (err: Error & { statusCode?: number }) => {
    err.statusCode = 400;
    err.message = `the body is not valid ${name} data (${err.message}); send it compressed whole, or uncompressed without Content-Encoding`;
  });
  payload.on('error', (err) => decoder.destroy(err));
  return payload.pipe(decoder);
}
