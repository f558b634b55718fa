#!/usr/bin/env bash
# Every test, with the real parts they need: `npm run test:ci` (what .ci/run calls, after
# `npm install`). Installs and starts, idempotently, a Docker engine with buildx and QEMU, the
# builder fleet's extra engines, a registry with a password, the service's Debian base image,
# and Debian's Chromium (root on Debian 12, as CI is), then
# typechecks and runs the whole suite. A part that cannot be brought up fails the run:
# the integration tests never skip.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/ci/setup-docker.sh
# Two more engines (one behind sshd on loopback, one over TCP with TLS), and one with the
# containerd image store for Windows-platform images, for the builder fleet tests.
bash tools/ci/setup-fleet.sh
# The deployment test's Debian 13 base image (debootstrap; no Docker Hub) and unshare (the SSH noexec suite).
bash tools/ci/setup-service.sh
# Debian's chromium for the status page tests (playwright-core drives it; nothing is downloaded).
bash tools/ci/setup-browser.sh
# Debian's Prometheus and promtool for the monitoring tests (metrics lint, alert rule tests, a real scrape).
bash tools/ci/setup-prometheus.sh
# Nx 24.0.0's batch worker fix (npm install's postinstall does it too; idempotent): README, "Typed options and Nx's batch worker".
node tools/nx-plugin/patch-nx.js
npm run typecheck
npx vitest run
