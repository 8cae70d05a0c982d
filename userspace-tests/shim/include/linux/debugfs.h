/* SPDX-License-Identifier: GPL-2.0 */
/*
 * debugfs for the userspace build.  shim.h's debugfs calls do nothing;
 * including this header instead keeps the tree, so that a test can open
 * a file by its path under /sys/kernel/debug with filp_open() and read
 * it with kernel_read(), as it does in the kernel.  A show file
 * (DEFINE_SHOW_ATTRIBUTE) is rendered into a 64 KiB buffer at open.
 * The tree's root and lock are weak definitions: one per program.
 */
#ifndef _SHIM_LINUX_DEBUGFS_H
#define _SHIM_LINUX_DEBUGFS_H

#include <shim.h>
#include <fcntl.h>
#include <sys/types.h>

struct shim_dnode {
	char name[64];
	struct shim_dnode *parent, *next, *child;
	void *data;
	const struct file_operations *fops;
};

struct shim_dfile {
	struct file file;		/* first: a struct file * is a shim_dfile * */
	struct seq_file m;
	int (*show)(struct seq_file *m, void *v);
};

#pragma weak shim_debugfs_top
#pragma weak shim_debugfs_lock
struct shim_dnode shim_debugfs_top;
pthread_mutex_t shim_debugfs_lock = PTHREAD_MUTEX_INITIALIZER;

static inline struct dentry *shim_debugfs_create(const char *name, struct dentry *parent,
						 void *data, const struct file_operations *fops)
{
	struct shim_dnode *p = parent ? (void *)parent : &shim_debugfs_top, *n;

	if (IS_ERR(parent))
		return parent;
	n = calloc(1, sizeof(*n));
	if (!n)
		return ERR_PTR(-ENOMEM);
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->data = data;
	n->fops = fops;
	n->parent = p;
	pthread_mutex_lock(&shim_debugfs_lock);
	n->next = p->child;
	p->child = n;
	pthread_mutex_unlock(&shim_debugfs_lock);
	return (struct dentry *)n;
}

static inline void shim_debugfs_free(struct shim_dnode *n)
{
	while (n->child) {
		struct shim_dnode *c = n->child;

		n->child = c->next;
		shim_debugfs_free(c);
	}
	free(n);
}

static inline void shim_debugfs_remove_recursive(struct dentry *d)
{
	struct shim_dnode *n = (void *)d, **link;

	if (IS_ERR_OR_NULL(d))
		return;
	pthread_mutex_lock(&shim_debugfs_lock);
	for (link = &n->parent->child; *link != n; link = &(*link)->next)
		;
	*link = n->next;
	pthread_mutex_unlock(&shim_debugfs_lock);
	shim_debugfs_free(n);
}

#define debugfs_create_dir(name, parent)	shim_debugfs_create(name, parent, NULL, NULL)
#define debugfs_create_file(name, mode, parent, data, fops) \
	shim_debugfs_create(name, parent, data, fops)
#define debugfs_remove_recursive(d)		shim_debugfs_remove_recursive(d)

/* The open of a show file: @inode is the file's node. */
static inline int shim_single_open(struct file *file, int (*show)(struct seq_file *, void *),
				   struct inode *inode)
{
	struct shim_dfile *f = (void *)file;

	f->show = show;
	f->m.private = ((struct shim_dnode *)inode)->data;
	f->file.private_data = &f->m;
	return 0;
}

#undef DEFINE_SHOW_ATTRIBUTE
#define DEFINE_SHOW_ATTRIBUTE(__name)					\
static int __name##_open(struct inode *inode, struct file *file)	\
{									\
	return shim_single_open(file, __name##_show, inode);		\
}									\
static const struct file_operations __maybe_unused __name##_fops = { .open = __name##_open }

static inline struct file *filp_open(const char *path, int flags, unsigned short mode)
{
	static const char top[] = "/sys/kernel/debug/";
	struct shim_dnode *n = &shim_debugfs_top;
	struct shim_dfile *f;
	size_t len;
	int ret;

	if (strncmp(path, top, sizeof(top) - 1))
		return ERR_PTR(-ENOENT);
	pthread_mutex_lock(&shim_debugfs_lock);
	for (path += sizeof(top) - 1; n && *path; path += len + !!path[len]) {
		len = strcspn(path, "/");
		for (n = n->child; n; n = n->next)
			if (strlen(n->name) == len && !strncmp(n->name, path, len))
				break;
	}
	pthread_mutex_unlock(&shim_debugfs_lock);
	if (!n || !n->fops)
		return ERR_PTR(n ? -EISDIR : -ENOENT);
	f = calloc(1, sizeof(*f));
	if (!f)
		return ERR_PTR(-ENOMEM);
	f->m.size = 1 << 16;
	f->m.buf = malloc(f->m.size);
	ret = f->m.buf ? n->fops->open((struct inode *)n, (struct file *)f) : -ENOMEM;
	if (!ret)
		ret = f->show(&f->m, NULL);
	if (ret) {
		free(f->m.buf);
		free(f);
		return ERR_PTR(ret);
	}
	return (struct file *)f;
}

static inline ssize_t kernel_read(struct file *file, void *buf, size_t count, loff_t *pos)
{
	struct shim_dfile *f = (void *)file;
	size_t n = *pos < (loff_t)f->m.count ? min(count, f->m.count - *pos) : 0;

	memcpy(buf, f->m.buf + *pos, n);
	*pos += n;
	return n;
}

static inline int filp_close(struct file *file, void *id)
{
	struct shim_dfile *f = (void *)file;

	free(f->m.buf);
	free(f);
	return 0;
}

#endif /* _SHIM_LINUX_DEBUGFS_H */
