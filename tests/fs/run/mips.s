# The stops of SPEC §8 at known offsets, linked at 0x10000 (75-run.bats).
.set noreorder
.globl _start
_start:
.org 0x00
	li $v0, 4001
	syscall
	addiu $v0, $v0, 1
	nop
.org 0x10
	break
.org 0x20
	lw $t1, 0($t0)
.org 0x30
	sw $t1, 0($t0)
.org 0x40
	jr $t0
	nop
.org 0x50
	.word 0xffffffff
.org 0x60
1:	b 1b
	nop
.org 0x70
	wait
.org 0x80
	teq $zero, $zero
.org 0x90
	nop; nop; nop; nop; nop; nop; nop; nop
