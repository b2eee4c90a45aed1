# The two commands of the README, and a few more.
.PHONY: up down test bench lint mutants package lambdas

up:
	@bash infra/stack.sh up

down:
	@bash infra/stack.sh down

test:
	@bash infra/stack.sh test

bench:
	@bash infra/stack.sh bench

mutants:
	@bash infra/stack.sh mutants

package:
	@bash infra/stack.sh package

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# `sam build` (template.yaml's BuildMethod: makefile, built in the source
# tree: samconfig.toml) asks for build-<LogicalId> once per function. The
# first builds every function in one cargo build; the others find it done.
LAMBDA_ARCH ?= arm64
LAMBDA_BINS = slipway-authorizer slipway-deploy slipway-upload slipway-apps slipway-webhook slipway-pushes

lambdas:
	cargo lambda build --profile lambda --$(LAMBDA_ARCH) -p slipway-functions $(addprefix --bin ,$(LAMBDA_BINS))

build-AuthorizerFunction: BIN = slipway-authorizer
build-DeployFunction: BIN = slipway-deploy
build-UploadFunction: BIN = slipway-upload
build-AppsFunction: BIN = slipway-apps
build-WebhookFunction: BIN = slipway-webhook
build-PushFunction: BIN = slipway-pushes
build-%: lambdas
	cp target/lambda/$(BIN)/bootstrap $(ARTIFACTS_DIR)/bootstrap
