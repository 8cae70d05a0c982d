// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/spanheap: a misc device; every open() is a private heap (uheap.c).
 */
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include "uheap.h"

static unsigned short dev_mode = 0600;
module_param(dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "Mode of /dev/spanheap (default 0600)");

unsigned long shp_dev_mem_limit = 64UL << 20;
module_param_named(mem_limit, shp_dev_mem_limit, ulong, 0644);
MODULE_PARM_DESC(mem_limit, "Cap on each open file's heap, bytes (default 64 MiB)");

unsigned int shp_dev_event_queue_max = 4096;
module_param_named(event_queue_max, shp_dev_event_queue_max, uint, 0644);
MODULE_PARM_DESC(event_queue_max, "Cap on each open file's pending events (default 4096)");

static int spanheap_open(struct inode *inode, struct file *file)
{
	struct uheap *u = uheap_create();

	if (IS_ERR(u))
		return PTR_ERR(u);
	file->private_data = u;
	return 0;
}

static int spanheap_release(struct inode *inode, struct file *file)
{
	uheap_destroy(file->private_data);
	return 0;
}

static long spanheap_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	return uheap_ioctl(file->private_data, cmd, (void __user *)arg);
}

static ssize_t spanheap_read(struct file *file, char __user *buf,
			     size_t count, loff_t *pos)
{
	return uheap_read(file->private_data, buf, count,
			  file->f_flags & O_NONBLOCK);
}

static __poll_t spanheap_poll(struct file *file, poll_table *wait)
{
	struct uheap *u = file->private_data;

	poll_wait(file, &u->wq, wait);
	return uheap_readable(u) ? EPOLLIN | EPOLLRDNORM : 0;
}

static const struct file_operations spanheap_fops = {
	.owner = THIS_MODULE,
	.open = spanheap_open,
	.release = spanheap_release,
	.unlocked_ioctl = spanheap_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.read = spanheap_read,
	.poll = spanheap_poll,
	.llseek = noop_llseek,
};

static struct miscdevice spanheap_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "spanheap",
	.fops = &spanheap_fops,
};

/**
 * shp_chardev_init() - register /dev/spanheap
 *
 * Context: module init.
 * Return: 0 or the misc_register() error.
 */
int shp_chardev_init(void)
{
	spanheap_misc.mode = dev_mode;
	return misc_register(&spanheap_misc);
}

/**
 * shp_chardev_exit() - unregister /dev/spanheap
 *
 * Context: module exit; no file is open (each holds a module reference).
 */
void shp_chardev_exit(void)
{
	misc_deregister(&spanheap_misc);
}
