# The stops of SPEC §8 at known offsets, linked at 0x10000 (75-run.bats).
.globl _start
_start:
.org 0x00
	movz x8, #0x5d
	svc #0
	add x0, x0, #1
	nop
.org 0x10
	brk #0
.org 0x20
	ldr x0, [x1]
.org 0x30
	str x0, [x1]
.org 0x40
	br x1
.org 0x50
	udf #0
.org 0x60
1:	b 1b
.org 0x70
	wfi
.org 0x80
	hvc #0
.org 0x90
	nop; nop; nop; nop; nop; nop; nop; nop
