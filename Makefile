# The two commands of the README, and a few more.
.PHONY: up down test bench lint

up:
	@bash infra/stack.sh up

down:
	@bash infra/stack.sh down

test:
	@bash infra/stack.sh test

bench:
	@bash infra/stack.sh bench

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
