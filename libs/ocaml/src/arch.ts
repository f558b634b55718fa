/** The CPU architectures images are built for, named as Docker names them. */
export const ARCHES = ["amd64", "arm64", "ppc64le", "s390x", "riscv64"] as const;
export type Arch = (typeof ARCHES)[number];
