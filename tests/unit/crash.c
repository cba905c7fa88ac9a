/*
 * A static program that stores 0x12345678 at address 16 and dies of it:
 * qemu-user writes its core dump, which test-elf.c loads.
 */
int main(void)
{
	*(volatile int *)16 = 0x12345678;
	return 0;
}
