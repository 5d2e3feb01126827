/**
 * Last line of defence for log text the daemon did not write itself (error messages from services,
 * connectors, vendors): any email address in it becomes its short hash.
 */
import { hashEmail } from '../log/logger';

const EMAIL = /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+\.[A-Za-z]{2,}/g;

/** `text` with every email address replaced by `hashEmail(address)`. */
export function scrubEmails(text: string): string {
  return text.replace(EMAIL, (m) => hashEmail(m));
}
