import { inject, injectable } from 'tsyringe';
import { cert, applicationDefault, initializeApp, deleteApp, type App } from 'firebase-admin/app';
import { getAuth, type Auth } from 'firebase-admin/auth';
import { randomUUID } from 'node:crypto';
import { CONFIG, type AppConfig } from '../config';
import { UnauthenticatedError, UnavailableError } from '../errors';
import type { IdentityVerifier, VerifiedIdentity } from './identity-verifier';

/** firebase-admin's codes for "could not ask Firebase", as opposed to "the token is bad". */
const UNREACHABLE = /^app\/(network-error|network-timeout)$|^auth\/internal-error$/;

/**
 * Verifies Firebase ID tokens with firebase-admin (signature, expiry, audience,
 * issuer). With a service account (GOOGLE_APPLICATION_CREDENTIALS) it also asks
 * Firebase whether the user is disabled or their sessions were revoked (a
 * lookup per token, which CachedIdentityVerifier makes once per five minutes);
 * with a project id alone it cannot, and such a user keeps access until the
 * token expires (at most an hour). The emulator always checks. When Firebase
 * cannot be reached, the answer is 503, not 401: the token may well be good.
 * firebase-admin reads FIREBASE_AUTH_EMULATOR_HOST itself; the configuration
 * refuses that variable in production.
 */
@injectable()
export class FirebaseIdentityVerifier implements IdentityVerifier {
  private readonly app: App;
  private readonly auth: Auth;
  private readonly checkRevoked: boolean;

  constructor(@inject(CONFIG) config: AppConfig) {
    const { projectId, credentialsFile, emulatorHost } = config.firebase;
    // The emulator needs no credential; otherwise a service account file or Google's default credentials.
    const options = emulatorHost
      ? { projectId }
      : { projectId, credential: credentialsFile ? cert(credentialsFile) : applicationDefault() };
    this.app = initializeApp(options, `mymonit-${randomUUID()}`);
    this.auth = getAuth(this.app);
    this.checkRevoked = Boolean(credentialsFile);
  }

  async verify(token: string): Promise<VerifiedIdentity> {
    try {
      const decoded = await this.auth.verifyIdToken(token, this.checkRevoked);
      return { uid: decoded.uid, expiresAt: decoded.exp };
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'auth/invalid-token';
      if (UNREACHABLE.test(code)) throw new UnavailableError('Firebase cannot be reached to verify the token; try again shortly');
      throw new UnauthenticatedError(code.replace(/^auth\//, ''));
    }
  }

  async close(): Promise<void> {
    await deleteApp(this.app);
  }
}
