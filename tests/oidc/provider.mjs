// A real OpenID Connect provider for the CIS2 sign-in tests (tests/directory/test_cis2_sign_in.py):
// the npm package oidc-provider (package.json), configured like NHS CIS2 for our client: the
// authorization code flow with PKCE, and private_key_jwt (RS512) at the token endpoint, checked
// against the public key the test registers. Its development interactions stand in for CIS2's log
// in and consent pages: a login name picks one of the test's accounts.
//
//   node tests/oidc/provider.mjs CONFIG.json
//
// CONFIG: {"port": 1234, "client": {client_id, redirect_uris, jwks}, "accounts": {login: claims}}.
// Prints "READY <issuer>" once it listens; stops on SIGTERM.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const issuer = `http://127.0.0.1:${config.port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      ...config.client,
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "private_key_jwt",
      token_endpoint_auth_signing_alg: "RS512",
    },
  ],
  clientAuthMethods: ["private_key_jwt"],
  enabledJWA: { clientAuthSigningAlgValues: ["RS256", "RS512"] },
  scopes: ["openid", "email", "profile"],
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  async findAccount(ctx, id) {
    const claims = config.accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  pkce: { required: () => true },
  cookies: { keys: ["test-only-cookie-key"] },
  features: { devInteractions: { enabled: true } },
});

const server = provider.listen(config.port, "127.0.0.1", () => {
  process.stdout.write(`READY ${issuer}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
