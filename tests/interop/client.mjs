// A relying party we did not write: openid-client (pinned in package.json), driven by the
// Python tests as a subprocess (tests/support/interop.py).
//
//   echo '{"command": "discover", "client": {...}}' | node client.mjs
//
// One JSON command on stdin, one JSON answer on stdout:
//   {"ok": true, "result": {...}}                  the command did what it was asked
//   {"ok": false, "error": {"name", "message", "code", "error", "error_description", "status"}}
//                                                  openid-client refused or the server said no
// Any other exit (a status other than 0, no JSON) is a broken harness, never a test result.
//
// Every command gets "client": {"issuer", "client_id", "client_secret"?, "auth_method"?}.
// Each run is a fresh process, so what a flow must remember between steps (PKCE verifier,
// state, nonce, the device authorization) is handed back to the caller and passed in again.
// New commands are one more entry in COMMANDS.

import * as oidc from 'openid-client';

async function configure(client) {
  // Plain http only on loopback: the tests' live servers, never anything else.
  const issuer = new URL(client.issuer);
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(issuer.hostname);
  const execute = loopback && issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [];
  return oidc.discovery(issuer, client.client_id, client.metadata ?? {}, clientAuth(client), {
    execute,
    timeout: 10,
  });
}

function clientAuth(client) {
  switch (client.auth_method ?? 'client_secret_basic') {
    case 'client_secret_basic':
      return oidc.ClientSecretBasic(client.client_secret);
    case 'client_secret_post':
      return oidc.ClientSecretPost(client.client_secret);
    case 'none':
      return oidc.None();
    default:
      throw new TypeError(`unsupported auth_method ${client.auth_method}`);
  }
}

const COMMANDS = {
  // The provider metadata as openid-client read it.
  async discover({ client }) {
    const config = await configure(client);
    return { metadata: config.serverMetadata() };
  },

  // RFC 9126: push the authorization request (with PKCE, state and nonce made here) and
  // return the URL the browser must open, with what the callback step will need.
  async par_start({ client, parameters = {} }) {
    const config = await configure(client);
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...parameters,
    });
    return { authorization_url: url.href, code_verifier: codeVerifier, state, nonce };
  },

  // The callback URL the browser was sent to -> tokens. openid-client checks state, iss,
  // the PKCE exchange and the ID token (signature against the JWKS, iss, aud, nonce, exp).
  async code_grant({ client, callback_url, code_verifier, state, nonce }) {
    const config = await configure(client);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback_url), {
      pkceCodeVerifier: code_verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    return { tokens: { ...tokens }, id_token_claims: tokens.claims() };
  },

  // RFC 8628 §3.1: start the device flow; the answer is what a device shows its user.
  async device_start({ client, parameters = {} }) {
    const config = await configure(client);
    return { device: await oidc.initiateDeviceAuthorization(config, parameters) };
  },

  // RFC 8628 §3.4/§3.5: poll as openid-client does (waiting `interval`, slowing down when
  // told, until the user answers or the code expires); an ID token is checked when present.
  async device_poll({ client, device }) {
    const config = await configure(client);
    const tokens = await oidc.pollDeviceAuthorizationGrant(config, device);
    return { tokens: { ...tokens }, id_token_claims: tokens.claims() ?? null };
  },

  // RFC 8693 §2.1: exchange a subject token at the token endpoint.
  async token_exchange({ client, parameters }) {
    const config = await configure(client);
    const tokens = await oidc.genericGrantRequest(
      config,
      'urn:ietf:params:oauth:grant-type:token-exchange',
      parameters,
    );
    return { tokens: { ...tokens } };
  },
};

function describeError(error) {
  return {
    name: error?.name,
    message: error?.message,
    code: error?.code,
    error: error?.error,
    error_description: error?.error_description,
    status: error?.status,
  };
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function main() {
  const input = JSON.parse(await readStdin());
  const command = COMMANDS[input.command];
  if (command === undefined) {
    throw new TypeError(`unknown command ${JSON.stringify(input.command)}`);
  }
  let answer;
  try {
    answer = { ok: true, result: await command(input) };
  } catch (error) {
    answer = { ok: false, error: describeError(error) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(2);
});
