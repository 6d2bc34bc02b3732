// POST /graphql. Every failure becomes an ApiError with the server's
// extensions.code, so views can branch on codes rather than on messages.

import { session } from './session.js';

export class ApiError extends Error {
  constructor(code, message, extensions = {}) {
    super(message);
    this.code = code;
    this.extensions = extensions;
  }
}

let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(handler) {
  onUnauthenticated = handler;
}

export async function graphql(query, variables = {}) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        Authorization: `Bearer ${session.token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('NETWORK', 'The server could not be reached. Check the connection and try again.');
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError('BAD_RESPONSE', `The server answered HTTP ${response.status} without a GraphQL response.`);
  }
  const first = body.errors?.[0];
  if (first) throw toError(first);
  if (!response.ok || !body.data) {
    throw new ApiError('BAD_RESPONSE', `The server answered HTTP ${response.status}.`);
  }
  return body.data;
}

// Subscriptions' errors come through here too, so a refused token is handled once.
export function toError(error) {
  const extensions = error.extensions || {};
  const code = extensions.code || 'UNKNOWN';
  let message = error.message || 'Something went wrong.';
  if (code === 'RATE_LIMITED') {
    message = `Too many changes in a minute; try again in ${extensions.retryAfterSeconds ?? 60} s.`;
  }
  const apiError = new ApiError(code, message, extensions);
  if (code === 'UNAUTHENTICATED') onUnauthenticated(apiError);
  return apiError;
}
