// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/spanheap: a misc device; every open() is a private heap (uheap.c).
 *
 * Module parameters are checked on every write (-EINVAL, value kept),
 * and each user may hold at most max_user_heaps open files, counted by
 * effective uid like inotify's max_user_instances (-EMFILE beyond).
 */
#include <linux/compat.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/xarray.h>
#include "uheap.h"

#define DEV_MEM_LIMIT_MIN	(1UL << 20)
#define DEV_MEM_LIMIT_MAX	(1UL << 40)
#define DEV_EVENT_QUEUE_MAX	(1U << 20)
#define DEV_USER_HEAPS_MAX	65536

static unsigned short dev_mode = 0600;
module_param(dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "Mode of /dev/spanheap, at most 0666 (default 0600)");

/* Every rejected write is -EINVAL, overflowing numbers included. */
static int mem_limit_set(const char *val, const struct kernel_param *kp)
{
	unsigned long v;

	if (kstrtoul(val, 0, &v) || v < DEV_MEM_LIMIT_MIN || v > DEV_MEM_LIMIT_MAX)
		return -EINVAL;
	WRITE_ONCE(*(unsigned long *)kp->arg, v);
	return 0;
}

static const struct kernel_param_ops mem_limit_ops = {
	.set = mem_limit_set,
	.get = param_get_ulong,
};

module_param_cb(mem_limit, &mem_limit_ops, &shp_dev_mem_limit, 0644);
MODULE_PARM_DESC(mem_limit, "Cap on each open file's heap, bytes, 1 MiB .. 1 TiB (default 64 MiB)");

static int event_queue_max_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, DEV_EVENT_QUEUE_MAX) ? -EINVAL : 0;
}

static const struct kernel_param_ops event_queue_max_ops = {
	.set = event_queue_max_set,
	.get = param_get_uint,
};

module_param_cb(event_queue_max, &event_queue_max_ops, &shp_dev_event_queue_max, 0644);
MODULE_PARM_DESC(event_queue_max, "Cap on each open file's pending events, 1 .. 1048576 (default 4096)");

static int max_user_heaps_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, DEV_USER_HEAPS_MAX) ? -EINVAL : 0;
}

static const struct kernel_param_ops max_user_heaps_ops = {
	.set = max_user_heaps_set,
	.get = param_get_uint,
};

static unsigned int max_user_heaps = 128;
module_param_cb(max_user_heaps, &max_user_heaps_ops, &max_user_heaps, 0644);
MODULE_PARM_DESC(max_user_heaps, "Open files of /dev/spanheap per user, 1 .. 65536 (default 128)");

/* Open files per effective uid, as xarray values; under user_heaps_lock. */
static DEFINE_XARRAY(user_heaps);
static DEFINE_MUTEX(user_heaps_lock);

static int user_heaps_get(kuid_t uid)
{
	unsigned long n;
	int ret;

	mutex_lock(&user_heaps_lock);
	n = xa_to_value(xa_load(&user_heaps, __kuid_val(uid)));
	if (n >= READ_ONCE(max_user_heaps))
		ret = -EMFILE;
	else
		ret = xa_err(xa_store(&user_heaps, __kuid_val(uid),
				      xa_mk_value(n + 1), GFP_KERNEL_ACCOUNT));
	mutex_unlock(&user_heaps_lock);
	return ret;
}

static void user_heaps_put(kuid_t uid)
{
	unsigned long n;

	mutex_lock(&user_heaps_lock);
	n = xa_to_value(xa_load(&user_heaps, __kuid_val(uid)));
	if (n > 1)	/* overwriting a present entry allocates nothing */
		xa_store(&user_heaps, __kuid_val(uid), xa_mk_value(n - 1), GFP_KERNEL);
	else
		xa_erase(&user_heaps, __kuid_val(uid));
	mutex_unlock(&user_heaps_lock);
}

static int spanheap_open(struct inode *inode, struct file *file)
{
	kuid_t uid = current_euid();
	struct uheap *u;
	int ret;

	ret = user_heaps_get(uid);
	if (ret)
		return ret;
	u = uheap_create();
	if (IS_ERR(u)) {
		user_heaps_put(uid);
		return PTR_ERR(u);
	}
	u->uid = uid;
	file->private_data = u;
	return 0;
}

static int spanheap_release(struct inode *inode, struct file *file)
{
	struct uheap *u = file->private_data;
	kuid_t uid = u->uid;

	uheap_destroy(u);
	user_heaps_put(uid);
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
 * Return: 0, -EINVAL for a dev_mode beyond 0666, or the misc_register()
 * error.
 */
int shp_chardev_init(void)
{
	if (dev_mode & ~0666)
		return -EINVAL;
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
	xa_destroy(&user_heaps);
}
