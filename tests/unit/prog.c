/*
 * The loader tests' program, built static for every architecture whose
 * compiler is found (meson.build): initialized data, a bss past it, and a
 * _start without libc (the run tests give it a kernel).
 */
volatile unsigned char data[8192] = {1, 2, 3};
volatile unsigned char bss[100000];

void _start(void)
{
	for (;;)
		bss[0] = data[0];
}
