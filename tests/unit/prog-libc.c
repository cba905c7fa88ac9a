/* A static glibc program for the loader tests: libc's own layout (TLS,
 * RELRO, notes), as a cross compiler links it. */
#include <stdio.h>

int main(void)
{
	puts("hello");
	return 0;
}
