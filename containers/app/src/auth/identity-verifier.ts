/** Injection token of the identity provider that verifies bearer tokens. */
export const IDENTITY_VERIFIER = Symbol('IdentityVerifier');

export interface VerifiedIdentity {
  uid: string;
  /** Epoch seconds after which the token is no longer valid. */
  expiresAt: number;
}

/** Verifies a bearer token; throws `UnauthenticatedError` with a loggable reason when it does not verify. */
export interface IdentityVerifier {
  verify(token: string): Promise<VerifiedIdentity>;
  close?(): Promise<void>;
}
