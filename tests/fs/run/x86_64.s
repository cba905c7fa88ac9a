# The stops of SPEC §8 at known offsets, linked at 0x10000 (75-run.bats).
.globl _start
_start:
.org 0x00
	nop; nop; hlt
.org 0x10
	mov $60, %eax
	syscall
	add $1, %rax
	nop
.org 0x20
	int3
.org 0x30
	int $0x10
.org 0x40
	movq (%rbx), %rax
.org 0x50
	movq %rax, (%rbx)
.org 0x60
	jmp *%rbx
.org 0x70
	ud2
.org 0x80
1:	jmp 1b
.org 0x90
	nop; nop; nop; nop; nop; nop; nop; nop
