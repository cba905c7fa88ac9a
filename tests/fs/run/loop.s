# x86_64: count up the quad at rdi for ever (75-run.bats, live reads).
.globl _start
_start:
1:	incq (%rdi)
	jmp 1b
