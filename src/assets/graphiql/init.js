/*
 * Mounts GraphiQL for choso. Loaded as an external script so the page works
 * under a Content-Security-Policy with script-src 'self' (no inline code).
 *
 * Requires (loaded before this file): React 18, ReactDOM 18 and GraphiQL 3
 * UMD builds, which define the globals React, ReactDOM and GraphiQL.
 *
 * Queries and mutations go to POST /graphql. Subscriptions go over a
 * WebSocket to /graphql/ws using the graphql-transport-ws protocol; the
 * graphql-ws client is bundled inside graphiql.min.js and is used by
 * GraphiQL.createFetcher when subscriptionUrl is set. Headers typed into
 * GraphiQL's "Headers" editor (e.g. {"Authorization": "Bearer ..."}) are
 * sent as HTTP headers on /graphql and, for subscriptions, merged into the
 * connection_init payload of the WebSocket (a new socket is opened for each
 * subscription, so it always carries the current headers).
 */
(function () {
  'use strict';

  var container = document.getElementById('graphiql');
  if (!container || !window.React || !window.ReactDOM || !window.GraphiQL) {
    if (container) {
      container.textContent = 'GraphiQL failed to load its scripts.';
    }
    return;
  }

  var subscriptionUrl =
    (location.protocol === 'https:' ? 'wss://' : 'ws://') +
    location.host +
    '/graphql/ws';

  var fetcher = GraphiQL.createFetcher({
    url: '/graphql',
    subscriptionUrl: subscriptionUrl
  });

  var root = ReactDOM.createRoot(container);
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: 'headers'
    })
  );
})();
