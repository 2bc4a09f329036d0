/**
 * Friendly names for the artifact types referrers usually have (signatures, SBOMs, attestations);
 * any other type is shown as it is. Versioned families are matched by prefix, so a new version of
 * a known format keeps its name.
 */
const KINDS: Array<[RegExp, string]> = [
  [/^application\/vnd\.dev\.cosign\.artifact\.sig\.v\d+\+json$/, 'Cosign signature'],
  [/^application\/vnd\.dev\.sigstore\.bundle/, 'Sigstore bundle (signature)'],
  [/^application\/vnd\.cncf\.notary\.signature$/, 'Notation signature'],
  [/^(application\/spdx\+json|text\/spdx)/, 'SBOM (SPDX)'],
  [/^application\/vnd\.cyclonedx(\+json|\+xml)?$/, 'SBOM (CycloneDX)'],
  [/in-toto/, 'In-toto attestation'],
  [/^application\/vnd\.dsse\.envelope/, 'Attestation (DSSE envelope)'],
];

export function artifactKind(artifactType: string | undefined): string | undefined {
  if (!artifactType) return undefined;
  return KINDS.find(([re]) => re.test(artifactType))?.[1];
}
