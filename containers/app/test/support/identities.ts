import { randomUUID } from 'node:crypto';
import { rememberPersonalData } from './log-capture';

/** Identities from the Firebase Auth Emulator, as a browser would get them by signing up. */

export interface Identity {
  uid: string;
  email: string;
  idToken: string;
}

function emulatorHost(): string {
  const host = process.env.FIREBASE_AUTH_EMULATOR_HOST;
  if (!host) throw new Error('FIREBASE_AUTH_EMULATOR_HOST is not set: run the tests with `npm test`');
  return host;
}

const API = () => `http://${emulatorHost()}/identitytoolkit.googleapis.com/v1`;

async function call(path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${API()}/${path}?key=fake-api-key`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`emulator ${path}: ${JSON.stringify(json)}`);
  return json;
}

export async function signUp(label = 'user'): Promise<Identity> {
  const email = `${label}-${randomUUID().slice(0, 8)}@test.mymonit.example`;
  const json = await call('accounts:signUp', { email, password: 'correct horse battery', returnSecureToken: true });
  rememberPersonalData(String(json.localId), email);
  return { uid: String(json.localId), email, idToken: String(json.idToken) };
}

/** Disables the account in the emulator, as an operator does in the Firebase console for a stolen account. */
export async function disableIdentity(identity: Identity): Promise<void> {
  const response = await fetch(`${API()}/accounts:update`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer owner' },
    body: JSON.stringify({ localId: identity.uid, disableUser: true }),
  });
  if (!response.ok) throw new Error(`emulator accounts:update: ${await response.text()}`);
}

/** Deletes the identity in the emulator: its tokens stop verifying. */
export async function deleteIdentity(identity: Identity): Promise<void> {
  await call('accounts:delete', { idToken: identity.idToken });
}

/**
 * A structurally valid but unsigned token (the emulator's verification takes
 * those) for a uid, by default one the emulator never issued, valid for
 * `lifetimeSeconds`.
 */
export function forgedToken(uid: string, lifetimeSeconds = 3600): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({
    iss: 'https://securetoken.google.com/demo-mymonit',
    aud: 'demo-mymonit',
    sub: uid,
    user_id: uid,
    iat: now,
    exp: now + lifetimeSeconds,
    auth_time: now,
  })}.`;
}
