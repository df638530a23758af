import type { Plugin } from 'graphql-yoga';

/** Options for {@link useRootRedirect}. */
export interface RootRedirectOptions {
  /**
   * Where `GET /` sends the browser.
   * @default '/graphql'
   */
  to?: string;
}

/** `GET /` answers a redirect, so that opening the gateway's bare address lands on GraphiQL. */
export function useRootRedirect(options: RootRedirectOptions = {}): Plugin {
  const to = options.to ?? '/graphql';
  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== '/' || (request.method !== 'GET' && request.method !== 'HEAD')) return;
      endResponse(new fetchAPI.Response(null, { status: 302, headers: { location: to } }));
    },
  };
}
