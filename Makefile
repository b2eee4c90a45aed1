# The two commands of the README, and a few more.
.PHONY: up down test bench lint mutants

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

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
