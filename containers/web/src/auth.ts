import { initializeApp } from 'firebase/app';
import {
  browserLocalPersistence,
  connectAuthEmulator,
  createUserWithEmailAndPassword,
  indexedDBLocalPersistence,
  initializeAuth,
  onAuthStateChanged,
  sendPasswordResetEmail,
  signInWithEmailAndPassword,
  signOut as firebaseSignOut,
  type Auth,
  type User,
} from 'firebase/auth';

/** The deployment's settings, served by the app at /config.json. */
export interface WebConfig {
  firebase: { apiKey: string | null; authDomain: string | null; projectId: string | null };
  authEmulatorUrl: string | null;
}

let auth: Auth | null = null;

export async function loadConfig(): Promise<WebConfig> {
  const response = await fetch('config.json', { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  return (await response.json()) as WebConfig;
}

/** Initialises Firebase Auth from the deployment's settings; false when sign-in is not configured. */
export function initAuth(config: WebConfig): boolean {
  const { apiKey, authDomain, projectId } = config.firebase;
  if (!apiKey || !projectId) return false;
  const app = initializeApp({ apiKey, authDomain: authDomain ?? undefined, projectId });
  // initializeAuth without a popup/redirect resolver: e-mail and password only, a lighter bundle.
  auth = initializeAuth(app, { persistence: [indexedDBLocalPersistence, browserLocalPersistence] });
  if (config.authEmulatorUrl) connectAuthEmulator(auth, config.authEmulatorUrl, { disableWarnings: true });
  return true;
}

function requireAuth(): Auth {
  if (!auth) throw new Error('Sign-in is not configured');
  return auth;
}

export const currentUser = (): User | null => auth?.currentUser ?? null;

export function watchUser(callback: (user: User | null) => void): void {
  onAuthStateChanged(requireAuth(), callback);
}

export async function signIn(email: string, password: string): Promise<void> {
  await signInWithEmailAndPassword(requireAuth(), email, password);
}

export async function register(email: string, password: string): Promise<User> {
  return (await createUserWithEmailAndPassword(requireAuth(), email, password)).user;
}

export async function resetPassword(email: string): Promise<void> {
  await sendPasswordResetEmail(requireAuth(), email);
}

export async function signOut(): Promise<void> {
  if (auth) await firebaseSignOut(auth);
}

/** The current ID token (refreshed by the SDK when it nears expiry), or null when signed out. */
export async function idToken(): Promise<string | null> {
  const user = auth?.currentUser;
  return user ? user.getIdToken() : null;
}

/** Firebase Auth errors in words. */
export function authErrorMessage(error: unknown): string {
  const code = (error as { code?: string })?.code ?? '';
  switch (code) {
    case 'auth/invalid-credential':
    case 'auth/invalid-login-credentials':
    case 'auth/wrong-password':
    case 'auth/user-not-found':
      return 'The email or the password is wrong.';
    case 'auth/email-already-in-use':
      return 'An account with this email already exists: sign in, or reset its password.';
    case 'auth/weak-password':
    case 'auth/password-does-not-meet-requirements':
      return 'This password is too weak: use at least 8 characters.';
    case 'auth/invalid-email':
    case 'auth/missing-email':
      return 'This email address is not valid.';
    case 'auth/missing-password':
      return 'Enter a password.';
    case 'auth/too-many-requests':
      return 'Too many attempts: wait a few minutes and try again.';
    case 'auth/user-disabled':
      return 'This account is disabled: ask an administrator.';
    case 'auth/network-request-failed':
      return 'The sign-in service cannot be reached: check your connection and try again.';
    default:
      return 'Sign-in failed: try again, or ask an administrator if it keeps failing.';
  }
}
