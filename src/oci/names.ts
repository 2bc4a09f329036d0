import { DomainError } from './errors';

// distribution-spec: <name> grammar, at most 255 characters in all.
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_NAME_LENGTH = 255;

export function validateName(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME.test(name))
    throw new DomainError('name-invalid', { name: name.slice(0, 300) });
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function validateTag(tag: string): string {
  if (!TAG.test(tag)) throw new DomainError('manifest-invalid', { tag: tag.slice(0, 200) }, 'invalid tag');
  return tag;
}
