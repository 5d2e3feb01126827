/** Mailchimp's error document (`application/problem+json`), thrown by the sandbox's audience model. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: { field: string; message: string }[],
  ) {
    super(`${title}: ${detail}`);
  }

  /** The body Mailchimp sends (spec `ProblemDetailDocument`). */
  body(instance: string): Record<string, unknown> {
    return {
      type: 'https://mailchimp.com/developer/marketing/docs/errors/',
      title: this.title,
      status: this.status,
      detail: this.detail,
      instance,
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export const notFound = (what: string): Problem => new Problem(404, 'Resource Not Found', `The requested resource could not be found. (${what})`);

export const invalid = (detail: string, errors?: { field: string; message: string }[]): Problem => new Problem(400, 'Invalid Resource', detail, errors);

/** Real Mailchimp's wording for a refused resubscribe. */
export const compliance = (email: string): Problem =>
  new Problem(400, 'Member In Compliance State', `${email} is already a list member in compliance state due to unsubscribe, bounce, or compliance review.`);

export const forgotten = (email: string): Problem =>
  new Problem(
    400,
    'Forgotten Email Not Subscribed',
    `${email} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.`,
  );
