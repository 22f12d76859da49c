import { inject, injectable } from 'tsyringe';
import { cert, applicationDefault, initializeApp, deleteApp, type App } from 'firebase-admin/app';
import { getAuth, type Auth } from 'firebase-admin/auth';
import { randomUUID } from 'node:crypto';
import { CONFIG, type AppConfig } from '../config';
import { UnauthenticatedError } from '../errors';
import type { IdentityVerifier, VerifiedIdentity } from './identity-verifier';

/**
 * Verifies Firebase ID tokens with firebase-admin (signature, expiry, audience,
 * issuer). firebase-admin reads FIREBASE_AUTH_EMULATOR_HOST itself; the
 * configuration refuses that variable in production.
 */
@injectable()
export class FirebaseIdentityVerifier implements IdentityVerifier {
  private readonly app: App;
  private readonly auth: Auth;

  constructor(@inject(CONFIG) config: AppConfig) {
    const { projectId, credentialsFile, emulatorHost } = config.firebase;
    // The emulator needs no credential; otherwise a service account file or Google's default credentials.
    const options = emulatorHost
      ? { projectId }
      : { projectId, credential: credentialsFile ? cert(credentialsFile) : applicationDefault() };
    this.app = initializeApp(options, `mymonit-${randomUUID()}`);
    this.auth = getAuth(this.app);
  }

  async verify(token: string): Promise<VerifiedIdentity> {
    try {
      const decoded = await this.auth.verifyIdToken(token);
      return { uid: decoded.uid, expiresAt: decoded.exp };
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'auth/invalid-token';
      throw new UnauthenticatedError(code.replace(/^auth\//, ''));
    }
  }

  async close(): Promise<void> {
    await deleteApp(this.app);
  }
}
