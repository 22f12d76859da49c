/**
 * The measure message schema lives in @mymonit/publisher (adapters/publisher),
 * the library every adapter publishes with: one definition for the app's AMQP
 * and HTTP ingestion, its OpenAPI document and the adapters.
 */
export * from '@mymonit/publisher/schema';
