// Starts GraphiQL on /graphql, with subscriptions over the same endpoint.
// The server puts the settings (in development mode, a demo token) into the
// page as JSON, since the Content-Security-Policy allows no inline script.
const settings = JSON.parse(document.getElementById('graphiql-settings').textContent);
const url = new URL('/graphql', window.location.origin).toString();
const subscriptionUrl = url.replace(/^http/, 'ws');
const headers = settings.authorization ? { Authorization: settings.authorization } : {};

ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {
    fetcher: GraphiQL.createFetcher({
      url,
      subscriptionUrl,
      headers,
      wsConnectionParams: headers,
    }),
    defaultHeaders: settings.authorization ? JSON.stringify(headers, null, 2) : undefined,
    defaultEditorToolsVisibility: true,
  }),
);
