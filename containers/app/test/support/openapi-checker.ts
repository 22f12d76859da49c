import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';

type Response = { content?: Record<string, unknown>; headers?: Record<string, unknown> };
type Document = { paths: Record<string, Record<string, { responses: Record<string, Response> }>> };

const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Checks real responses against the served OpenAPI document: the operation,
 * the status, the media type and the body schema must all be documented, and
 * every header the document promises for that response must be there.
 */
export class OpenApiChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly templates: { template: string; pattern: RegExp }[];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly document: Document) {
    addFormats(this.ajv);
    this.ajv.addSchema(document, 'openapi');
    // Templates with more literal segments win: /users/{id}/experiments before /users/{id}.
    this.templates = Object.keys(document.paths)
      .map((template) => ({
        template,
        pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
        literal: template.split('/').filter((s) => s && !s.startsWith('{')).length,
      }))
      .sort((a, b) => b.literal - a.literal);
  }

  check(method: string, path: string, status: number, headers: Headers, body: unknown): void {
    const contentType = headers.get('content-type');
    const match = this.templates.find((t) => t.pattern.test(path));
    if (!match) throw new Error(`OpenAPI: no path template matches ${path}`);
    const operation = this.document.paths[match.template][method.toLowerCase()];
    if (!operation) throw new Error(`OpenAPI: ${method} ${match.template} is not documented`);
    const response = operation.responses[String(status)];
    if (!response) throw new Error(`OpenAPI: status ${status} of ${method} ${match.template} is not documented`);
    for (const name of Object.keys(response.headers ?? {})) {
      if (!headers.has(name)) throw new Error(`OpenAPI: ${method} ${match.template} ${status} documents a ${name} header, none was sent`);
    }
    const mediaType = contentType?.split(';')[0]?.trim() ?? null;
    if (!response.content) {
      if (body !== undefined && body !== '') {
        throw new Error(`OpenAPI: ${method} ${match.template} ${status} documents no body, got one`);
      }
      return;
    }
    if (!mediaType || !response.content[mediaType]) {
      throw new Error(
        `OpenAPI: ${method} ${match.template} ${status} answered ${mediaType}, documented: ${Object.keys(response.content).join(', ')}`,
      );
    }
    if (!mediaType.includes('json')) return;
    const pointer = `openapi#/paths/${escapePointer(match.template)}/${method.toLowerCase()}/responses/${status}/content/${escapePointer(mediaType)}/schema`;
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: pointer });
      this.validators.set(pointer, validate);
    }
    if (!validate(body)) {
      throw new Error(
        `OpenAPI: ${method} ${path} ${status} body does not match the schema: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
      );
    }
  }
}
